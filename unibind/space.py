"""The unified space: encoders + adapters + the text anchor, to embed and compare.

Everything a modality needs is looked up in the registry, so the space works
with whatever plugins are installed and never names one.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from unibind import devices
from unibind.batching import prepared_batches
from unibind.calibration.domain import mark_calibration_domain, mark_calibration_set
from unibind.calibration.metrics import entropy
from unibind.calibration.store import apply_calibration, ranked_classes
from unibind.explain import review
from unibind.errors import InputError, NotRegisteredError
from unibind.progress import track
from unibind.registry import Registry
from unibind.results import ClassScore, Failure, Prediction

if TYPE_CHECKING:
    from unibind.knowledge.centres import CentreSet

#: Cosine similarities are multiplied by this before the softmax (CLIP's learned scale).
DEFAULT_LOGIT_SCALE = 100.0
#: Label texts embedded per batch (and per cache transaction) when class centres are made.
LABEL_TEXT_BATCH = 256
#: Working memory of one classification chunk: the [files, labels] similarity, logit and probability blocks.
SCORING_CHUNK_BYTES = 64 * 2**20


@dataclass
class Embeddings:
    """Embeddings of the inputs that worked, and the ones that did not."""

    vectors: torch.Tensor
    sources: list[str]
    modality: str
    failures: list[Failure] = field(default_factory=list)
    #: Inputs embedded although their vector means little (silent or constant audio), and why.
    warnings: list[Failure] = field(default_factory=list)


@dataclass
class Pipeline:
    """Loader, frozen encoder and adapter of one modality."""

    modality: str
    loader: Any
    encoder: Any
    adapter: Any
    encoder_name: str
    adapter_name: str


class Space:
    """Embed files and text into one language-anchored space and classify by similarity."""

    #: Where label texts' embeddings are cached: True = the shared text-embedding cache
    #: (``<cache dir>/text-embeddings.sqlite``), a path, or False for none.
    text_cache: Any = True

    def __init__(
        self,
        *,
        registry: Registry | None = None,
        text_encoder: str | None = None,
        encoders: dict[str, str] | None = None,
        adapters: dict[str, str] | None = None,
        settings: dict[str, dict[str, Any]] | None = None,
        logit_scale: float = DEFAULT_LOGIT_SCALE,
        centres: str | Path | CentreSet | Mapping[str, Any] | None = None,
        device: str | torch.device | None = None,
        precision: str | None = None,
        pool: Any = None,
    ):
        if registry is None:
            from unibind.plugins import get_registry

            registry = get_registry()
        self.registry = registry
        self.encoder_choice = dict(encoders or {})
        if text_encoder:
            self.encoder_choice["text"] = text_encoder
        self.adapter_choice = dict(adapters or {})
        self.settings = dict(settings or {})
        self.logit_scale = logit_scale
        self._pipelines: dict[str, Pipeline] = {}
        self.centres = centres
        #: Where every model of the space runs and its centres are scored (:mod:`unibind.devices`:
        #: the argument, else the command's --device, else UNIBIND_DEVICE, else the best available).
        self.device = devices.resolve(device)
        #: Autocast precision of the frozen encoders (fp32: none); adapters always run in fp32.
        self.precision = devices.resolve_precision(precision, self.device)
        #: Trained adapters by modality (filled by Space.from_dir / unibind.spacedir).
        self.trained_adapters: dict[str, Any] = {}
        #: Per-modality mean embeddings subtracted before normalising (unibind.centring; from a space folder).
        self.modality_means: dict[str, torch.Tensor] = {}
        #: Apply the calibrated stacking a trained space recorded (unibind.training.stacking); False: raw scores.
        self.stacking = True
        #: Knowledge base (path, read only) that classes outside the saved centres are built from when the
        #: saved ones came from one; None: such classes get their modality's prompt-template mean.
        self.kb: str | Path | None = None
        #: The folder and ``space.json`` record a trained space was loaded from (``Space.from_dir``), else None.
        self.space_dir: Path | None = None
        self.record: Any = None
        #: Modality -> the classes the last :meth:`centre_set` built now (outside the saved centres), and how.
        self.built_classes: dict[str | None, BuiltClasses] = {}
        #: Built frozen encoders shared with other spaces (unibind.encoders.pool.EncoderPool); None: build own.
        self.pool = pool

    @classmethod
    def from_dir(cls, path: str | Path, **kwargs: Any) -> Space:
        """The space trained into directory ``path`` (``unibind train --out``): see :mod:`unibind.spacedir`."""
        from unibind.spacedir import load_space_dir

        return load_space_dir(path, space_class=cls, **kwargs)

    # -- building ---------------------------------------------------------------------
    def _pick(self, kind: str, modality: str, choice: dict[str, str]) -> Any:
        name = choice.get(modality)
        return self.registry.get(kind, name) if name else self.registry.default(kind, modality)

    def _pick_adapter(self, modality: str, encoder: Any) -> Any:
        """The named adapter, else the best default whose required encoder method is there."""
        name = self.adapter_choice.get(modality)
        if name:
            return self.registry.get("adapter", name)
        for spec in self.registry.defaults("adapter", modality):
            if spec.requires is None or _has_capability(encoder, spec.requires):
                return spec
        raise NotRegisteredError(
            f"no default adapter fits the {modality} encoder {type(encoder).__name__}; "
            "name one (e.g. a trained 'linear' adapter)")

    def _settings_of(self, spec: Any) -> Any:
        """The settings given for ``spec`` as ``plugin:name`` or by bare name, also filed under the
        name its pipeline records, so later look-ups (identities, caches) see the same settings."""
        recorded = self.registry.reference(spec)
        for key in (spec.qualified_name, recorded, spec.name):
            if key in self.settings:
                self.settings.setdefault(recorded, self.settings[key])
                return self.settings[key]
        return None

    def pipeline(self, modality: str) -> Pipeline:
        """Build (once) the loader, encoder and adapter of ``modality``."""
        if modality in self._pipelines:
            return self._pipelines[modality]
        loader = self.registry.get("modality", modality).build()
        enc_spec = self._pick("encoder", modality, self.encoder_choice)
        encoder = (self.pool.build(enc_spec, self._settings_of(enc_spec), self.device) if self.pool is not None
                   else enc_spec.build(self._settings_of(enc_spec)))
        if modality == "text":
            text_encoder = encoder
        else:
            text_encoder = self.pipeline("text").encoder
        trained = self.trained_adapters.get(modality)
        if trained is not None:  # a trained space directory: its adapter with its weights
            ad_spec, adapter = trained.build(self.registry, enc_spec.name, encoder, text_encoder)
        else:
            ad_spec = self._pick_adapter(modality, encoder)
            adapter = ad_spec.build(self._settings_of(ad_spec), encoder=encoder, text_encoder=text_encoder,
                                    in_dim=encoder.dim, out_dim=text_encoder.dim)
        if modality in self.modality_means:  # every path through this pipeline centres (unibind.centring)
            from unibind.centring import CentredAdapter

            adapter = CentredAdapter(adapter, self.modality_means[modality])
        adapter.eval()
        encoder.to(self.device)  # the text encoder moved with its own pipeline, before any adapter used it
        adapter.to(self.device)
        # names that resolve back to these specs even where two plugins claim the bare name
        pipe = Pipeline(modality, loader, encoder, adapter, self.registry.reference(enc_spec),
                        self.registry.reference(ad_spec))
        self._pipelines[modality] = pipe
        if getattr(self, "record", None) is not None:  # a trained space: refuse models it was not made with
            from unibind.spacedir import check_part, stale_error

            stale = check_part(self, modality)
            if stale is not None:
                del self._pipelines[modality]
                raise stale_error(self.space_dir, self.record, stale)
        return pipe

    @property
    def dim(self) -> int:
        return self.pipeline("text").encoder.dim

    # -- embedding -----------------------------------------------------------------------
    def _adapt(self, pipe: Pipeline, features: torch.Tensor) -> torch.Tensor:
        """Unit-norm space embeddings of encoder features, computed on the device, returned on the CPU."""
        return devices.to_host(F.normalize(pipe.adapter(devices.to_device(features.float(), self.device)), dim=-1))

    @torch.inference_mode()
    def embed_features(self, modality: str, features: torch.Tensor) -> torch.Tensor:
        """Unit-norm embeddings of ``modality``'s encoder features (e.g. from the feature cache)."""
        return self._adapt(self.pipeline(modality), features)

    @torch.inference_mode()
    def embed_text(self, texts: Sequence[str]) -> torch.Tensor:
        """Unit-norm embeddings of ``texts`` in the space (on the CPU, computed on :attr:`device`)."""
        pipe = self.pipeline("text")
        with devices.autocast(self.device, self.precision):
            features = pipe.encoder.encode(list(texts))
        return self._adapt(pipe, features)

    @torch.inference_mode()
    def embed_samples(self, modality: str, samples: Sequence[Any]) -> torch.Tensor:
        """Unit-norm embeddings of already loaded samples."""
        if modality == "text":
            return self.embed_text(samples)
        pipe = self.pipeline(modality)
        with devices.autocast(self.device, self.precision):
            features = pipe.encoder.encode(list(samples))
        return self._adapt(pipe, features)

    def infer_modality(self, path: str | Path) -> str:
        path = Path(path)
        try:
            return self.registry.modality_for_path(path).name
        except NotRegisteredError as exc:
            raise InputError(path, str(exc)) from None

    @torch.inference_mode()
    def embed_files(self, paths: Sequence[str | Path], modality: str | None = None, *,
                    batch_size: int = 32, workers: int = 0, progress: bool | None = None) -> Embeddings:
        """Embed files of one modality; bad files are skipped and reported, the rest finish.

        ``workers`` > 0 decodes and preprocesses in that many worker processes.
        """
        paths = [Path(p) for p in paths]
        if modality is None:
            modalities = {self.infer_modality(p) for p in paths} if paths else {"text"}
            if len(modalities) > 1:
                raise InputError(", ".join(map(str, paths[:3])), f"mixed modalities {sorted(modalities)};"
                                 " embed them separately or use classify")
            modality = modalities.pop()
        pipe = self.pipeline(modality)
        vectors: list[torch.Tensor] = []
        sources: list[str] = []
        failures: list[Failure] = []
        noted: list[Failure] = []
        batches = prepared_batches(paths, pipe.loader, pipe.encoder, batch_size=batch_size, workers=workers,
                                   device=self.device)
        total = -(-len(paths) // batch_size)
        for prepared in track(batches, total=total, description=f"embedding {modality}",
                              enabled=progress if progress is not None else len(paths) > batch_size):
            failures.extend(prepared.failures)
            noted.extend(prepared.warnings)
            if prepared.sources:
                with devices.autocast(self.device, self.precision):
                    features = pipe.encoder(devices.to_device(prepared.batch, self.device))
                vectors.append(self._adapt(pipe, features))
                sources.extend(prepared.sources)
        out = torch.cat(vectors) if vectors else torch.empty(0, self.dim)
        return Embeddings(out, sources, modality, failures, noted)

    # -- classification ------------------------------------------------------------------
    def text_embedder(self) -> Any:
        """This space's text side through the text-embedding cache (:attr:`text_cache`)."""
        from unibind.knowledge.textcache import TextEmbedder

        return TextEmbedder.from_space(self, cache=self.text_cache, batch_size=LABEL_TEXT_BATCH)

    @torch.inference_mode()
    def class_centres(self, labels: Sequence[str], modality: str, *, progress: bool | None = None) -> torch.Tensor:
        """One centre per class: the normalised mean of its prompt-template embeddings.

        This is the CLIP/ImageBind baseline; centres localized in a knowledge
        base replace it when one is given. The templates (80 per class for
        images) are embedded a batch of labels at a time through the
        text-embedding cache, with a progress bar on stderr for large label
        sets: a second run with the same labels encodes nothing, and memory
        holds one batch of texts plus the ``[labels, dim]`` centres.
        """
        source = self.registry.get("description_source", "templates").build()
        embedder = self.text_embedder()
        per_label = max(1, len(source.class_descriptions("x", modality)))
        step = max(1, LABEL_TEXT_BATCH // per_label)
        starts = range(0, len(labels), step)
        show = progress if progress is not None else len(labels) * per_label > 4 * LABEL_TEXT_BATCH
        centres = torch.empty(len(labels), self.dim)
        for start in track(starts, description=f"embedding {len(labels)} labels' texts", enabled=show):
            texts = [source.class_descriptions(label, modality) for label in labels[start:start + step]]
            embedded = embedder([t for group in texts for t in group], progress=False)
            at = 0
            for i, group in enumerate(texts):
                centres[start + i] = embedded[at:at + len(group)].mean(0)
                at += len(group)
        return F.normalize(centres, dim=-1)

    def centre_set(self, centres: str | Path | CentreSet | Mapping[str, Any] | None = None,
                   labels: Sequence[str] | None = None, modality: str | None = None) -> CentreSet | None:
        """Knowledge-base centres (``unibind kb centres``), checked against this space's text encoder.

        ``centres`` defaults to the ones the space was made with; a mapping
        modality -> centres (a trained space's, one set per modality) gives
        ``modality`` its own set, and None for a modality it has none of.
        ``labels`` picks and orders classes among them (default: all).
        """
        from unibind.knowledge.centres import CentreSet
        from unibind.identity import identity_hash, space_text_identity

        own = centres is None
        centres = centres if centres is not None else self.centres
        if isinstance(centres, Mapping):
            centres = centres.get(modality) if modality is not None else None
        self.built_classes.pop(modality, None)
        if centres is None:
            return None
        if isinstance(centres, CentreSet):
            loaded = centres
        else:
            loaded = CentreSet.load(centres)
            if own:  # a trained space's own file: still the one its record names, now that it was read
                from unibind.spacedir import check_written_file

                check_written_file(self.space_dir, self.record, Path(centres))
        loaded.check_encoder(identity_hash(space_text_identity(self, centred=False)))
        new = list({label.strip().casefold(): label.strip() for label in loaded.missing(labels or [])}.values())
        if own and new:  # classes the space never saved centres for: built now by its recipe, never saved
            built, self.built_classes[modality] = self._build_centres(new, loaded, modality)
            loaded = loaded.joined(built)
        if "text" in self.modality_means:  # embedded before centring: centre them as this space's texts are
            from unibind.centring import centre_rows

            loaded = replace(loaded, centres=centre_rows(loaded.centres, self.modality_means["text"]))
        loaded = loaded.select(labels) if labels else loaded
        offsets = self.seen_offsets(loaded.labels, modality)
        return replace(loaded, offsets=offsets) if offsets is not None else loaded

    def _build_centres(self, labels: list[str], saved: CentreSet,
                       modality: str | None) -> tuple[CentreSet, BuiltClasses]:
        """Centres of ``labels`` by the recipe ``saved`` was made with (its method, k, modality and prompt), through
        this space's text side before centring, as the saved ones were embedded: from :attr:`kb` when the saved
        ones came from a knowledge base and one is given, else the modality's prompt-template mean."""
        import difflib

        from unibind.knowledge.centres import CentreSettings, localize
        from unibind.knowledge.records import ClassRef

        settings, embedder = saved.meta.settings, self._plain_text_embedder()
        refs = [ClassRef(name=label) for label in labels]
        templates = f"the mean of its {settings.modality} prompt templates"
        if settings.method in ("ecl", "mean") and self.kb is not None:
            from unibind.knowledge.store import KnowledgeBase

            with KnowledgeBase(self.kb, read_only=True) as kb:
                made = localize(refs, embedder, settings.model_copy(update={"on_empty": "templates"}), kb=kb)
            how = (f"{'ECL k=' + str(settings.k) if settings.method == 'ecl' else 'the mean'} of their descriptions "
                   f"in {self.kb}, as the saved centres were made")
            bare = [c.name for c in made.meta.classes if c.fallback]
            if bare:
                how += f"; {', '.join(bare)}: no {settings.modality} descriptions there, so {templates}"
        elif settings.method in ("ecl", "mean"):
            made = localize(refs, embedder, CentreSettings(method="templates", modality=settings.modality))
            how = (f"{templates}: the saved centres came from the knowledge base {saved.meta.knowledge_base}, which "
                   "was not given (give it with --kb to build them the same way)")
        else:
            made = localize(refs, embedder, settings)
            how = templates if settings.method == "templates" else "the bare class name, as the saved centres were made"
        close = {label: difflib.get_close_matches(label, saved.labels, n=2) for label in labels}  # a typo?
        hints = [f"{label!r} is not a saved class: did you mean {' or '.join(near)}?" for label, near in close.items()
                 if near]
        return made, BuiltClasses(modality, labels, how, hints)

    def _plain_text_embedder(self) -> Any:
        """The text side without the modality-gap centring (saved centres are embedded so; centre_set centres them)."""
        pipe = self.pipeline("text")
        if "text" not in self.modality_means:
            return self.text_embedder()
        from unibind.identity import space_text_identity
        from unibind.knowledge.textcache import TextEmbedder

        @torch.inference_mode()
        def encode(texts: list[str]) -> torch.Tensor:
            with devices.autocast(self.device, self.precision):
                features = pipe.encoder.encode(list(texts))
            return devices.to_host(F.normalize(pipe.adapter.inner(devices.to_device(features.float(), self.device)),
                                               dim=-1))

        return TextEmbedder(encode, space_text_identity(self, centred=False), cache=self.text_cache,
                            batch_size=LABEL_TEXT_BATCH, precision=self.precision)

    def seen_offsets(self, labels: Sequence[str], modality: str | None) -> torch.Tensor | None:
        """``[C]`` calibrated-stacking offsets of ``labels`` (gamma on the classes the space was trained on),
        or None: no record for ``modality``, or :attr:`stacking` off. Every scoring path subtracts these."""
        record = getattr(self, "record", None)
        fitted = record.stacking.get(modality) if record is not None and self.stacking and modality else None
        if fitted is None:
            return None
        from unibind.training.stacking import seen_offsets

        return seen_offsets(labels, fitted.seen, fitted.gamma)

    @torch.inference_mode()
    def similarities(self, vectors: torch.Tensor, class_centres: torch.Tensor | None,
                     centre_set: CentreSet | None = None, reduce: str | None = None) -> torch.Tensor:
        """``[N, classes]`` cosines of ``vectors`` to the class centres (or a centre set's), on :attr:`device`;
        returned on the CPU, where calibration and the predictions read them."""
        vectors = devices.to_device(vectors, self.device)
        if class_centres is None:
            sims = centre_set.on(self.device).score(vectors, reduce=reduce)  # type: ignore[union-attr,arg-type]
        else:
            sims = vectors @ devices.to_device(class_centres, self.device).T
        return devices.to_host(sims)

    def logits(self, embeddings: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
        return self.logit_scale * embeddings @ centres.T

    def classify(self, paths: Sequence[str | Path], labels: Sequence[str] | None = None, *,
                 modality: str | None = None, top_k: int = 5, calibrator: Any | None = None,
                 centres: str | Path | CentreSet | Mapping[str, Any] | None = None,
                 reduce: str | None = None, fallback: Any | None = None,
                 explain: bool = False, multi_label: bool = False) -> tuple[list[Any], list[Failure]]:
        """Zero-shot classify files against ``labels``; returns predictions and skipped files.

        With knowledge-base centres (``centres`` here or given to the space) a
        class scores by the maximum cosine over its centre set (the paper's
        ECL; ``reduce`` = mean or softmax instead), and ``labels`` picks
        classes among them. Without, each class's centre is the mean of its
        prompt-template embeddings (the CLIP/ImageBind baseline).
        ``calibrator``: one calibrator, or modality -> calibrator (a space
        directory's); ``fallback`` (:class:`unibind.validation.base.Fallback`, or
        modality -> Fallback) re-checks predictions below its threshold; ``explain`` adds why.
        ``multi_label``: every class above its fitted threshold, each with its
        own calibrated probability (:mod:`unibind.multilabel`; ``calibrator``
        is then modality -> multi-label calibrator, default the space directory's).
        """
        plan = self.classification_plan(paths, labels, modality=modality, centres=centres)
        if plan.built and multi_label:
            new = sorted({label for b in plan.built.values() for label in b.labels})
            raise InputError("--multi-label", f"no fitted threshold for {', '.join(map(repr, new))}: the space's "
                             "multi-label calibrator holds one per class it was fitted on; these were built now")
        calibrator, fallback = self._without_class_calibrators(plan, calibrator, fallback)
        if multi_label:
            from unibind.multilabel import classify_multi_label

            return classify_multi_label(self, plan, calibrator=calibrator, reduce=reduce, fallback=fallback,
                                        explain=explain, top_k=top_k)
        predictions: list[Prediction] = []
        checked: dict[str, list[torch.Tensor]] = {}   # per modality: the vectors tested as a set
        for chunk in self.scored_chunks(plan, reduce=reduce):
            part, labels, sims, mod = chunk.part, chunk.labels, chunk.sims, chunk.part.modality
            logits = self.logit_scale * sims
            calibrated = apply_calibration(calibrator, mod, logits, labels)
            probs = calibrated if calibrated is not None else torch.softmax(logits, dim=-1)
            found = _predictions(part, labels, sims, probs, top_k, calibrated is not None)
            if mark_calibration_domain(found, calibrator, mod, part.vectors, calibrated is not None):
                checked.setdefault(mod, []).append(part.vectors)
            # explanations and, below the threshold, the fallback validators (unibind.explain)
            checker = fallback.get(mod) if isinstance(fallback, Mapping) else fallback
            predictions.extend(review(self, found, part.vectors, labels, probs, mod, centre_set=chunk.centre_set,
                                      fallback=checker, explain_them=explain, top_k=top_k, scores=sims))
        mark_calibration_set(checked, calibrator, predictions)
        return predictions, plan.failures

    def _without_class_calibrators(self, plan: ClassificationPlan, calibrator: Any, fallback: Any) -> tuple[Any, Any]:
        """Calibrator and fallback with class-specific calibrators dropped where ``plan`` built classes now:
        their parameters belong to the classes they were fitted on (said in ``plan.built[mod].hints``).
        A temperature does not depend on the classes and still applies; the fallback goes with the calibration."""
        from unibind.calibration.store import FittedCalibrator

        for mod, built in plan.built.items():
            found = calibrator.get(mod) if isinstance(calibrator, Mapping) else calibrator
            if not (isinstance(found, FittedCalibrator) and found.record.class_specific):
                continue
            calibrator = {m: c for m, c in calibrator.items() if m != mod} if isinstance(calibrator, Mapping) else {
                m: calibrator for m in plan.groups if m != mod}
            fallback = {m: f for m, f in fallback.items() if m != mod} if isinstance(fallback, Mapping) else {
                m: fallback for m in plan.groups if m != mod}
            built.hints.append(f"the space's {found.record.name} calibrator has parameters per class it was fitted "
                               f"on, so it is not applied: {mod} probabilities are uncalibrated and the fallback "
                               "does not run")
        return calibrator, fallback

    def classification_plan(self, paths: Sequence[str | Path], labels: Sequence[str] | None = None, *,
                            modality: str | None = None, centres: Any = None) -> ClassificationPlan:
        """Files by modality, and each modality's centre set and classes, checked before anything is embedded."""
        given = [label.strip() for label in labels or [] if label.strip()]
        groups: dict[str, list[Path]] = defaultdict(list)
        failures: list[Failure] = []
        for path in map(Path, paths):
            try:
                groups[modality or self.infer_modality(path)].append(path)
            except InputError as exc:
                failures.append(Failure(source=str(path), reason=exc.problem))
        # each modality's own centre set when the space has one per modality
        sets, built = {}, {}
        for mod in groups or [modality]:
            sets[mod] = self.centre_set(centres, given, mod)
            if mod in self.built_classes:
                built[mod] = self.built_classes[mod]
        checked = {mod: _checked_labels(given, centre_set) for mod, centre_set in sets.items()}
        return ClassificationPlan(dict(groups), sets, checked, failures, built)

    def scored_chunks(self, plan: ClassificationPlan, *, reduce: str | None = None) -> Iterator[ScoredChunk]:
        """Cosine scores ``[files, classes]`` a chunk of files at a time (bad files go to ``plan.failures``)."""
        for mod, group in plan.groups.items():
            embedded = self.embed_files(group, mod)
            plan.failures.extend(embedded.failures)
            if not embedded.sources:
                continue
            centre_set, labels = plan.centre_sets[mod], plan.labels[mod]
            class_centres = self.class_centres(labels, mod) if centre_set is None else None
            # moved to the device once; each chunk's scores come back to the CPU (calibration, predictions)
            on_device = (devices.to_device(class_centres, self.device) if class_centres is not None else None,
                         centre_set.on(self.device) if centre_set is not None else None)
            # a chunk of files at a time: the [files, labels] score blocks stay within SCORING_CHUNK_BYTES
            rows = max(1, SCORING_CHUNK_BYTES // (4 * 4 * len(labels)))
            offsets = self.seen_offsets(labels, mod) if class_centres is not None else None  # else in the set
            for at in range(0, len(embedded.sources), rows):
                part = Embeddings(embedded.vectors[at:at + rows], embedded.sources[at:at + rows], mod,
                                  warnings=embedded.warnings)
                sims = self.similarities(part.vectors, *on_device, reduce)
                sims = sims - offsets if offsets is not None else sims
                yield ScoredChunk(part, labels, sims, centre_set)


@dataclass
class BuiltClasses:
    """Classes a trained space had no saved centres for, built for this call only (never written to its folder)."""

    modality: str | None
    labels: list[str]
    how: str
    hints: list[str] = field(default_factory=list)

    def describe(self) -> str:
        where = f"{self.modality} " if self.modality else ""
        return (f"{where}classes built now (not among the space's saved centres): {', '.join(self.labels)}, from "
                f"{self.how}" + "".join(f"; {hint}" for hint in self.hints))


@dataclass
class ClassificationPlan:
    """What :meth:`Space.classify` will score: files by modality, each modality's centre set and classes."""

    groups: dict[str, list[Path]]
    centre_sets: dict[str | None, Any]
    labels: dict[str | None, list[str]]
    failures: list[Failure]
    #: Modality -> the classes built now because the space's saved centres lack them.
    built: dict[str | None, BuiltClasses] = field(default_factory=dict)


@dataclass
class ScoredChunk:
    """Some files of one modality and their cosine scores against its classes."""

    part: Embeddings
    labels: list[str]
    sims: torch.Tensor
    centre_set: Any


def _checked_labels(given: list[str], centre_set: CentreSet | None) -> list[str]:
    """The classes to score: the centre set's (picked by ``given``), else ``given``; at least two, each once."""
    labels = centre_set.labels if centre_set is not None else given
    if len(labels) < 2:
        raise InputError("labels", f"give at least two labels, got {labels}")
    counts = Counter(label.casefold() for label in labels)
    repeated = sorted({label for label in labels if counts[label.casefold()] > 1})
    if repeated:  # they would split one class's probability between rows: a silently wrong answer
        raise InputError("labels", f"duplicate label(s) {', '.join(repeated)}: give each class once")
    return labels


def _has_capability(encoder: Any, method: str) -> bool:
    found = getattr(encoder, method, None)
    return callable(found) and found() is not None




def _predictions(embedded: Embeddings, labels: Sequence[str], sims: torch.Tensor, probs: torch.Tensor,
                 top_k: int, calibrated: bool) -> list[Prediction]:
    out = []
    ent = entropy(probs)
    k = min(top_k, len(labels))
    noted: dict[str, list[str]] = {}
    for w in embedded.warnings:
        noted.setdefault(w.source, []).append(w.reason)
    ranked = ranked_classes(probs, sims)[:, :k]
    for row, source in enumerate(embedded.sources):
        top = [ClassScore(label=labels[i], probability=float(probs[row, i]), similarity=float(sims[row, i]))
               for i in ranked[row].tolist()]
        out.append(Prediction(source=source, modality=embedded.modality, label=top[0].label,
                              confidence=top[0].probability, entropy=float(ent[row]), top=top,
                              calibrated=calibrated, warnings=noted.get(source, [])))
    return out
