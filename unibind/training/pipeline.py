"""From files to a trained space directory: ``train_space(config)`` (what ``unibind train`` runs).

Dataset -> frozen features through the cache -> positives (each sample's
description, else its class's knowledge-base centres) -> a split by
instance -> contrastive training of one adapter per modality -> ``SPACE/``
(see :mod:`unibind.spacedir`). Under ``torchrun`` every rank runs this;
rank 0 extracts features while the others wait, then each reads only its
slice of every batch from the cache, and rank 0 writes the space.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, Field, model_validator

from unibind.atomic import remove_stale_temps
from unibind.errors import InputError
from unibind.features import CachedRows, FeatureCache, FrozenEncoder, default_cache_root, extract_features
from unibind.results import Failure
from unibind.training.data import Item, read_dataset, split_instances
from unibind.training.distributed import DistContext
from unibind.training.trainer import FitResult, ModalityData, Positives, TrainSettings, fit_adapters

CHECKPOINT = "checkpoint.safetensors"

#: The adapter start ``unibind train`` uses unless told otherwise (chosen by scripts/choose_init.py, see README).
DEFAULT_INIT = "auto"
#: Whether ``unibind train`` fits calibrated stacking unless told otherwise, and with what seen-accuracy budget
#: (confirmed blind on new seeds and a new set: docs/choosing-the-start.md).
DEFAULT_STACKING = True
DEFAULT_STACKING_MAX_SEEN_LOSS = 0.05


class TrainConfig(BaseModel):
    """Everything ``train_space`` needs; ``unibind train`` fills it from its options."""

    data: Path = Field(description="JSONL manifest or a folder per class.")
    out: Path = Field(description="The space directory to write (resumes from its checkpoint).")
    modalities: list[str] | None = Field(default=None, description="Train these (default: all in the data).")
    kb: Path | None = Field(default=None, description="Knowledge base: class centres for label-only samples.")
    centres_k: int = Field(default=50, ge=1, description="ECL centres per class (the paper: 50).")
    centre_modality: str | None = Field(default=None, description="Make every modality's centres from this "
                                        "modality's canonical prompt and descriptions (default: each its own).")
    text_encoder: str | None = None
    encoders: dict[str, str] = Field(default_factory=dict, description="Encoder name per modality.")
    adapters: dict[str, str] = Field(default_factory=dict, description="Adapter name per modality "
                                     "(default: linear).")
    adapter_settings: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Per modality.")
    init: str = Field(default=DEFAULT_INIT, min_length=1, description=(
        "Start of every adapter whose adapter_settings name no 'init': 'auto' starts from the ImageNet text "
        "bridge where the modality's encoder has an ImageNet head (and a bridge plugin is installed), else "
        "from xavier; or any init the adapter takes (xavier, orthogonal, zeros, text-bridge)."))
    settings: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Settings per component "
                                                "name (encoders, loaders), as for Space.")
    cache_dir: Path | None = Field(default=None, description="Feature cache (default: <cache dir>/feature-cache).")
    val_fraction: float = Field(default=0.2, ge=0.0, lt=1.0)
    min_val_per_class: int = Field(default=2, ge=1, description=(
        "Validate (and stop early) only when every class gets at least this many val items and keeps as many "
        "for training; otherwise all items train for the fixed schedule of `epochs`."))
    centre_modalities: bool = Field(default=False, description=(
        "Save each modality's and the text's mean embedding over the training data in the space; it is "
        "subtracted before normalising wherever the space embeds (C3's collapse step against the modality gap)."))
    stacking: bool = Field(default=DEFAULT_STACKING, description=(
        "Fit calibrated stacking: a second run holds out ~30 % of the classes as pseudo-unseen and chooses the "
        "offset gamma subtracted from trained classes' scores at classify time (unibind.training.stacking)."))
    stacking_max_seen_loss: float | None = Field(default=DEFAULT_STACKING_MAX_SEEN_LOSS, ge=0, le=1, description=(
        "Calibrated stacking's criterion: None maximises H of seen and unseen accuracy (Chao et al.); a number "
        "takes the gamma with the best unseen accuracy that costs seen accuracy at most this much."))
    train: TrainSettings = Field(default_factory=TrainSettings)
    workers: int = Field(default=0, ge=0, description="Decoding worker processes for feature extraction.")
    extract_batch_size: int = Field(default=32, ge=1)
    progress: bool | None = None

    @model_validator(mode="after")
    def _budget_needs_stacking(self) -> TrainConfig:
        """A seen-loss budget without stacking would be ignored: the user meant one of the two."""
        if "stacking_max_seen_loss" in self.model_fields_set and self.stacking_max_seen_loss is not None \
                and not self.stacking:
            raise ValueError("stacking_max_seen_loss is calibrated stacking's criterion, but stacking is off")
        return self


@dataclass
class TrainResult:
    """A trained space: where it is, how training went, and what was skipped."""

    space_dir: Path
    fit: FitResult
    parameters: dict[str, int]
    samples: dict[str, dict[str, int]]
    failures: list[Failure] = field(default_factory=list)
    encoded: dict[str, int] = field(default_factory=dict)
    removed_temps: list[Path] = field(default_factory=list)  # left by a killed earlier run, cleaned up
    notes: list[str] = field(default_factory=list)  # e.g. classes whose centres for a modality fell back
    starts: dict[str, str] = field(default_factory=dict)  # modality -> the init its adapter started from
    stacking: dict[str, Any] = field(default_factory=dict)  # modality -> StackingRecord (when fitted)


def _require_two_classes(data: Path, items: list[Item]) -> None:
    """One class (or one description) teaches nothing and would report val accuracy 1.000: refuse it."""
    labels = sorted({i.label for i in items if i.label})
    positives = {i.description or f"\0{i.label}" for i in items if i.description or i.label}
    if len(positives) < 2:   # distinct descriptions are positives of their own, even within one class
        what = f"one class ({labels[0]})" if labels else "fewer than two distinct descriptions"
        raise InputError(data, f"{what}: training needs samples of at least two classes (or descriptions)")


def train_space(config: TrainConfig, *, registry: Any = None, ctx: DistContext | None = None,
                on_epoch: Any = None, pool: Any = None) -> TrainResult:
    """Train adapters on ``config.data`` and write the space directory ``config.out``.

    ``pool`` (:class:`~unibind.encoders.pool.EncoderPool`): frozen encoders built once and shared with
    the caller's other spaces (``unibind demo``), instead of loading them again here.
    """
    from unibind.spacelock import writing_space

    ctx = ctx or DistContext()
    # only the main process writes the folder; under torchrun the other ranks would wait on their own lock
    with writing_space(config.out, "unibind train") if ctx.main else contextlib.nullcontext():
        return _train_space(config, registry=registry, ctx=ctx, on_epoch=on_epoch, pool=pool)


def _train_space(config: TrainConfig, *, registry: Any, ctx: DistContext, on_epoch: Any, pool: Any) -> TrainResult:
    from unibind.knowledge.textcache import TextEmbedder, identity_hash, space_text_identity
    from unibind.space import Space

    if registry is None:
        from unibind.plugins import get_registry

        registry = get_registry()
    items, failures = read_dataset(config.data, registry, config.modalities)
    modalities = config.modalities or sorted({i.modality for i in items})  # type: ignore[misc]
    _require_two_classes(config.data, [i for i in items if i.modality in modalities])
    space = Space(registry=registry, text_encoder=config.text_encoder, settings=config.settings, device=ctx.device,
                  pool=pool)
    embedder = TextEmbedder.from_space(space)
    text_encoder = space.pipeline("text").encoder

    features: dict[str, CachedRows] = {}
    kept: dict[str, list[Item]] = {}
    frozen: dict[str, FrozenEncoder] = {}
    encoded: dict[str, int] = {}
    cache_root = config.cache_dir or default_cache_root()
    removed = remove_stale_temps(config.out) if ctx.main else []
    for m in modalities:
        group = [i for i in items if i.modality == m]
        if not group:
            raise InputError(config.data, f"no {m} samples in the data")
        frozen[m] = FrozenEncoder.from_registry(m, config.encoders.get(m), registry=registry,
                                                settings=config.settings, device=ctx.device, pool=pool)
        cache = FeatureCache(cache_root, frozen[m].cache_identity)
        removed += cache.remove_stale_temps()
        if not ctx.main:
            ctx.barrier()  # rank 0 extracts first; the others then find everything cached
            cache.reload()
        result = extract_features([i.path for i in group], frozen[m], cache, batch_size=config.extract_batch_size,
                                  workers=config.workers, progress=config.progress)
        if ctx.main:
            ctx.barrier()
        failures.extend(result.failures)
        by_path = {str(i.path): i for i in group}
        kept[m] = [by_path[s] for s in result.sources]
        features[m] = CachedRows(cache, result.hashes)
        encoded[m] = result.encoded
        if len(kept[m]) < 2:
            raise InputError(config.data, f"fewer than two usable {m} samples")

    all_items = [i for m in modalities for i in kept[m]]
    descriptions = sorted({i.description for i in all_items if i.description})
    text_row = {t: r for r, t in enumerate(descriptions)}
    texts = embedder(descriptions) if descriptions else torch.empty(0, text_encoder.dim)
    labels = sorted({i.label for i in all_items if i.label})
    label_row = {c: r for r, c in enumerate(labels)}
    # one centre set per modality, from its own canonical prompt and descriptions (or all from --centre-modality)
    made: dict[str, Any] = {}
    notes: list[str] = []
    for m in dict.fromkeys(config.centre_modality or m for m in modalities) if labels else []:
        made[m] = _centres(config, labels, embedder, m, notes)
    centre_sets = {m: made[config.centre_modality or m] for m in modalities} if labels else {}
    positives = {m: Positives(texts, centre_sets[m].centres if labels else None,
                              centre_sets[m].mask if labels else None) for m in modalities}

    train_keys, val_keys = split_instances(all_items, config.val_fraction, config.train.seed,
                                           min_val_per_class=config.min_val_per_class)
    train, val, samples, every = {}, {}, {}, {}
    for m in modalities:
        data = ModalityData(features[m],
                            torch.tensor([text_row.get(i.description, -1) for i in kept[m]]),  # type: ignore[arg-type]
                            torch.tensor([label_row.get(i.label, -1) for i in kept[m]]))  # type: ignore[arg-type]
        train_index = torch.tensor([n for n, i in enumerate(kept[m]) if i.key in train_keys], dtype=torch.long)
        val_index = torch.tensor([n for n, i in enumerate(kept[m]) if i.key in val_keys], dtype=torch.long)
        train[m], every[m] = data.subset(train_index), data
        if len(val_index):
            val[m] = data.subset(val_index)
        samples[m] = {"train": len(train_index), "val": len(val_index)}

    adapters, starts = {}, {}
    for m in modalities:
        spec = registry.get("adapter", config.adapters.get(m, "linear"))
        settings = adapter_start(config, m, spec, frozen[m].encoder, registry)
        adapters[m] = spec.build(settings, encoder=frozen[m].encoder,
                                 text_encoder=text_encoder, in_dim=frozen[m].dim, out_dim=text_encoder.dim)
        if settings and "init" in settings:
            starts[m] = settings["init"]
    # the starts, before training moves them: calibrated stacking trains a second adapter from the same one
    stacking_starts = {m: copy.deepcopy(a) for m, a in adapters.items()} if config.stacking and labels else {}
    out = Path(config.out)
    fit = fit_adapters(adapters, train, val, positives, config.train, checkpoint=out / CHECKPOINT, ctx=ctx,
                       on_epoch=on_epoch)
    frozen_count = sum(_count(f.encoder) for f in frozen.values()) + _count(text_encoder)
    parameters = {"trainable": fit.trainable_parameters, "frozen": frozen_count}
    stacking: dict[str, Any] = {}
    if ctx.main and config.stacking:
        # the second run trains as long as the main one did: its best epoch, or the fixed schedule
        epochs = fit.best_epoch if val and fit.best_epoch else config.train.epochs
        stacking = _fit_stacking(stacking_starts, every, positives, labels, centre_sets, config, kept, notes, epochs)
    if ctx.main:
        means = training_means(adapters, train, positives, ctx.device) if config.centre_modalities else None
        _write_space(out, config, space, frozen, adapters, kept, {m: f.hashes for m, f in features.items()},
                     fit, parameters, samples, centre_sets, identity_hash(space_text_identity(space)), means, stacking)
    return TrainResult(out, fit, parameters, samples, failures, encoded, removed, notes, starts, stacking)


def _fit_stacking(starts: dict[str, Any], every: dict[str, ModalityData], positives: dict[str, Positives],
                  labels: list[str], centre_sets: dict[str, Any], config: TrainConfig, kept: dict[str, list[Item]],
                  notes: list[str], epochs: int) -> dict[str, Any]:
    """Each modality's :class:`~unibind.spacedir.StackingRecord`; a modality it cannot be fitted for is noted."""
    from unibind.spacedir import StackingRecord
    from unibind.training.stacking import fit_stacking

    out = {}
    for m, start in starts.items():
        fields, why = fit_stacking(start, m, every[m], positives[m], labels, centre_sets[m], config.train, epochs,
                                   config.stacking_max_seen_loss)
        if fields is None:
            notes.append(f"{m}: no calibrated stacking ({why})")
            continue
        seen = sorted({i.label for i in kept[m] if i.label})
        out[m] = StackingRecord(seen=seen, **fields)
    return out


def adapter_start(config: TrainConfig, modality: str, spec: Any, encoder: Any, registry: Any
                  ) -> dict[str, Any] | None:
    """The modality's adapter settings with its start resolved: its own ``init``, else ``config.init``.

    ``auto`` is the bridge where ``encoder`` has one, else xavier. An adapter
    whose settings take no ``init`` keeps its own start, unless an init was
    asked for explicitly (then it is an error, not a silent no-op).
    """
    from unibind.errors import SettingsError
    from unibind.training.bridge_init import can_bridge

    settings = dict(config.adapter_settings.get(modality) or {})
    model = spec.settings_model()
    takes_init = model is not None and "init" in model.model_fields
    init = settings.get("init", config.init)
    if not takes_init and "init" not in settings:
        if init != "auto":
            raise SettingsError(f"init {init!r}: adapter {spec.label} ({modality}) takes no init")
        return settings or None
    accepted = _init_choices(model)
    if accepted and init != "auto" and init not in accepted:  # said here, with auto, not as the adapter's bare list
        raise SettingsError(f"init {init!r} ({modality}, {spec.label}): accepted values are "
                            f"{', '.join(['auto', *accepted])}")
    if init == "auto":
        init = "text-bridge" if can_bridge(encoder, registry) else "xavier"
    return {**settings, "init": init}


def _init_choices(model: Any) -> list[str]:
    """The values an adapter settings model's ``init`` field accepts (its Literal), or [] when it is free-form."""
    import typing

    annotation = model.model_fields["init"].annotation
    while typing.get_origin(annotation) is typing.Union:  # Optional[Literal[...]]
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    return [str(a) for a in typing.get_args(annotation)] if typing.get_origin(annotation) is typing.Literal else []


@torch.no_grad()
def training_means(adapters: dict[str, Any], train: dict[str, ModalityData],
                   positives: Positives | dict[str, Positives], device: Any = "cpu", batch: int = 1024) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
    """Each modality's mean unit embedding over its training rows, and the text's over every positive
    text (descriptions and centre slots): what :mod:`unibind.centring` subtracts. Also the row counts."""
    from unibind.centring import unit_mean

    every = positives if isinstance(positives, dict) else {m: positives for m in train}
    dim = next(iter(every.values())).dim
    means, counts = {}, {}
    for m, data in train.items():
        adapter = adapters[m].eval()
        total = torch.zeros(dim, dtype=torch.float64)
        for start in range(0, len(data), batch):
            rows = data.features[torch.arange(start, min(start + batch, len(data)))].float().to(device)
            total += torch.nn.functional.normalize(adapter(rows).float(), dim=-1).double().sum(0).cpu()
        means[m], counts[m] = (total / len(data)).float(), len(data)
    shared = next(iter(every.values())).texts  # the description texts are one tensor for every modality
    texts = [shared] + [p.centres[p.mask] for p in every.values() if p.centres is not None]
    texts = torch.cat([t.reshape(-1, dim) for t in texts])
    means["text"], counts["text"] = unit_mean(texts), len(texts)
    return means, counts


def _centres(config: TrainConfig, labels: list[str], embedder: Any, modality: str, notes: list[str]) -> Any:
    """``modality``'s ECL centres from the knowledge base, or its prompt-template means when there is none.

    A class the KB holds no usable description of for this modality (only prompt templates, or
    descriptions for other modalities) gets this modality's prompt-template mean, as with no KB at all
    (said in ``notes``, with what the KB holds); a class it does not describe at all is an error naming
    what it holds.
    """
    from unibind.knowledge.centres import CentreSettings, localize, what_was_found
    from unibind.knowledge.records import ClassRef

    refs = [ClassRef(name=label) for label in labels]
    if config.kb is None:
        return localize(refs, embedder, CentreSettings(method="templates", modality=modality))
    from unibind.knowledge.store import KnowledgeBase

    settings = CentreSettings(k=config.centres_k, modality=modality)
    with KnowledgeBase(config.kb, read_only=True) as kb:
        made = localize(refs, embedder, settings.model_copy(update={"on_empty": "templates"}), kb=kb)
        stand_ins = [c for c in made.meta.classes if c.fallback]
        held = [ClassRef(name=c.name, class_id=c.class_id) for c in stand_ins]
        described = {d.class_ref.key for d in kb.descriptions(held, kind="class_description")} if held else set()
        if any(ref.key not in described for ref in held):
            return localize(refs, embedder, settings, kb=kb)  # nothing at all for some class: the error says what
        found = what_was_found(kb, held, settings) if held else ""
    if stand_ins:
        notes.append(f"{modality} centres: {len(stand_ins)} class(es) ({', '.join(c.name for c in stand_ins[:10])}"
                     f"{' ...' if len(stand_ins) > 10 else ''}) have no {modality} descriptions in {config.kb}"
                     f"{found}; each has its {modality} prompt-template mean as its centre, as without --kb")
    return made


def _write_space(out: Path, config: TrainConfig, space: Any, frozen: dict[str, FrozenEncoder],
                 adapters: dict[str, Any], kept: dict[str, list[Item]], hashes: dict[str, list[str]], fit: FitResult,
                 parameters: dict[str, int], samples: dict[str, dict[str, int]], centre_sets: dict[str, Any],
                 text_identity: str, means: tuple[dict[str, Any], dict[str, int]] | None = None,
                 stacking: dict[str, Any] | None = None) -> None:
    from unibind.knowledge.textcache import identity_hash
    from unibind.centring import MEANS, save_means
    from unibind.seen_files import save_trained_on
    from unibind.seen_files import TRAINED_ON
    from unibind.spacedir import CENTRES_DIR, ModalityRecord, SpaceRecord, save_adapter, write_record, written_files

    last = fit.history[-1] if fit.history else None
    best = next((r for r in fit.history if r.epoch == fit.best_epoch), last)
    records = {}
    for m, adapter in adapters.items():
        data_hash = hashlib.sha256("\n".join(sorted(f"{h}\t{i.label}\t{i.description}" for h, i in zip(
            hashes[m], kept[m]))).encode()).hexdigest()[:24]
        metrics = {"val_accuracy": best.val_accuracy.get(m) if best else None, "samples": samples[m]}
        relative = save_adapter(out, m, adapter, encoder=frozen[m].encoder_name, data_hash=data_hash,
                                metrics=metrics)
        settings = adapter.settings.model_dump(mode="json") if getattr(adapter, "settings", None) else None
        records[m] = ModalityRecord(encoder=frozen[m].encoder_name, encoder_settings=config.settings.get(
            frozen[m].encoder_name), adapter=config.adapters.get(m, "linear"), adapter_settings=settings,
            adapter_file=relative, in_dim=frozen[m].dim, out_dim=adapter.out_dim,
            feature_identity=identity_hash(frozen[m].identity))
    save_trained_on(out, hashes)      # what calibrate fit / report must not take for held-out files
    centre_files = {}
    for m, centre_set in centre_sets.items():
        centre_files[m] = f"{CENTRES_DIR}/{m}.safetensors"
        centre_set.save(out / centre_files[m])
    if means is not None:
        save_means(out / MEANS, *means)
    text_name = space.pipeline("text").encoder_name
    metrics = {"best_epoch": fit.best_epoch, "stopped_early": fit.stopped_early, "temperature": fit.temperature,
               "parameters": parameters, "samples": samples, "train": config.train.model_dump(mode="json"),
               "history": [r.__dict__ for r in fit.history]}
    made_from = {"data": str(config.data), "kb": str(config.kb) if config.kb else None,
                 "command": train_command(config)}
    written = [r.adapter_file for r in records.values() if r.adapter_file] + list(centre_files.values())
    written += [MEANS] if means is not None else []
    written += [TRAINED_ON] if (out / TRAINED_ON).is_file() else []
    write_record(out, SpaceRecord(text_encoder=text_name, text_encoder_settings=config.settings.get(text_name),
                                  text_identity=text_identity, modalities=records,
                                  modality_centres=centre_files, metrics=metrics,
                                  means=MEANS if means is not None else None, stacking=stacking or {},
                                  made_from=made_from, files=written_files(out, written)))


def train_command(config: TrainConfig) -> str:
    """The ``unibind train`` command that trains this space again (named when a space is stale).

    Component settings (``config.settings``) have no command-line form; they
    are recorded in ``space.json`` and reported beside the command.
    """
    import shlex

    t = config.train
    words = ["unibind", "train", "--data", str(config.data), "--out", str(config.out)]
    if config.modalities:
        words += ["--modalities", ",".join(config.modalities)]
    if config.kb is not None:
        words += ["--kb", str(config.kb), "--k", str(config.centres_k)]
    if config.text_encoder:
        words += ["--text-encoder", config.text_encoder]
    for option, pairs in (("--encoder", config.encoders), ("--adapter", config.adapters)):
        for modality, name in sorted(pairs.items()):
            words += [option, f"{modality}={name}"]
    words += ["--init", config.init]  # always: the default may change, the command must not
    for modality, settings in sorted(config.adapter_settings.items()):
        if "init" in settings:
            words += ["--init", f"{modality}={settings['init']}"]
    words += ["--epochs", str(t.epochs), "--batch-size", str(t.batch_size), "--lr", str(t.lr),
              "--temperature", str(t.temperature), "--anchor-weight", str(t.anchor_weight),
              "--patience", str(t.patience),
              "--val-fraction", str(config.val_fraction), "--seed", str(t.seed)]
    words += ["--learn-temperature"] * bool(t.learn_temperature) + ["--symmetric"] * bool(t.symmetric)
    if t.balance_weight:
        words += ["--balance-weight", str(t.balance_weight)]
    words += ["--centre-modalities"] * bool(config.centre_modalities)
    words += ["--stacking" if config.stacking else "--no-stacking"]  # always: the default may change
    if config.stacking and config.stacking_max_seen_loss is not None:
        words += ["--stacking-max-seen-loss", str(config.stacking_max_seen_loss)]
    return shlex.join(words)


def _count(module: Any) -> int:
    return sum(p.numel() for p in module.parameters()) if isinstance(module, torch.nn.Module) else 0
