"""Embedding Center Localization (the paper's section 3.4) and the baselines it is measured against.

A class's centre set is ``k`` text embeddings: for ECL, the ``k`` knowledge-base
descriptions of the class most cosine-similar to its canonical prompt ("a
photo of a {}."). A query scores against a class by the maximum cosine over
the set (the paper), the mean, or a soft maximum. The baselines go through
the same code path as sets of one centre: the bare class name, the mean of
the prompt templates (CLIP/ImageBind), and the mean of all descriptions
(no localization). ECL and the description mean use every source but the
prompt templates (the paper's ECL chooses among descriptions; templates are
what it is compared with); ``sources`` restricts them to some sources (e.g.
only WordNet), or lets the templates in by naming them.

Scoring N queries against C classes x K centres is one matrix product per
chunk of queries followed by a segmented reduction over the K slots of each
class. Classes with fewer than K centres are padded: for ``max`` the padding
repeats one of the class's own centres (the maximum is unchanged, so no mask
is applied on the hot path); ``mean`` is linear, so it is one product with
each class's mean centre; ``softmax`` takes the padding copies' terms back
out of its sum. Chunks are sized
from a byte budget, so working memory is bounded whatever N is.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, Field

from unibind.errors import InputError
from unibind.knowledge.records import ClassRef, Kind, now

Reduce = Literal["max", "mean", "softmax"]
Method = Literal["ecl", "name", "templates", "mean"]

FORMAT = "unibind-centres"
FORMAT_VERSION = 1

#: The prompt-template source: the baseline, left out of ECL and the description mean unless named.
TEMPLATE_SOURCE = "templates"

#: Default working-memory budget of one scoring chunk (the [rows, C*K] similarity block).
DEFAULT_CHUNK_BYTES = 64 * 2**20


class CentreSettings(BaseModel):
    """How class centres are made and, by default, scored."""

    method: Method = Field(default="ecl", description=(
        "ecl: top-k knowledge-base descriptions nearest the canonical prompt (the paper); name: the bare "
        "class name; templates: normalised mean of the prompt templates; mean: normalised mean of all the "
        "class's knowledge-base descriptions (no localization)."))
    k: int = Field(default=50, ge=1, description="Centres per class for ecl (the paper uses 50).")
    modality: str = Field(default="image", description="Modality the centres serve: picks the canonical "
                          "prompt and templates, and keeps descriptions of that modality or of none.")
    prompt: str | None = Field(default=None, description="Canonical prompt template with '{}' for the "
                               "class name; default: the modality's ('a photo of a {}.' for images).")
    sources: list[str] = Field(default_factory=list, description="Only descriptions from these sources, "
                               "e.g. ['wordnet'] for WordNet-augmented centres (empty: every source but the "
                               "prompt templates, so ECL chooses among descriptions as the paper does and "
                               "the templates stay its baseline; name 'templates' to let them in).")
    kinds: list[Kind] = Field(default_factory=lambda: ["class_description"],
                              description="Kinds of knowledge-base text that may become centres.")
    include_prompt: bool = Field(default=False,
                                 description="ecl: add the canonical prompt itself to the set.")
    on_empty: Literal["error", "prompt", "templates"] = Field(default="error", description=(
        "A class with no usable descriptions: error, or fall back (recorded) to its canonical prompt or to "
        "the mean of its modality's prompt templates (what centres are without a knowledge base)."))
    reduce: Reduce = Field(default="max", description="Default scoring over a class's set: max (the "
                           "paper), mean, or softmax (temperature x log-mean-exp: between mean and max).")
    temperature: float = Field(default=0.05, gt=0, description="softmax: smaller is closer to max.")


class CentreText(BaseModel):
    id: int | None = Field(default=None, description="Knowledge-base row id (None: not from the store).")
    text: str
    source: str
    similarity: float | None = Field(default=None, description="ecl: cosine to the canonical prompt.")


class CentreClass(BaseModel):
    name: str
    class_id: str | None = None
    prompt: str | None = None
    candidates: int = Field(default=0, description="Descriptions the centres were chosen among.")
    fallback: bool = Field(default=False, description="No descriptions: the canonical prompt stands in.")
    candidates_digest: str | None = Field(default=None, description="sha256 of the texts the centres were made "
                                          "from: a knowledge base (or template set) that changed since differs.")
    texts: list[CentreText] = Field(description="One per centre, in slot order.")


class CentreMeta(BaseModel):
    """What a centres file says about itself (stored as JSON in the safetensors header)."""

    format: Literal["unibind-centres"] = FORMAT
    version: int = FORMAT_VERSION
    settings: CentreSettings
    encoder: dict[str, Any] = Field(description="Identity of the text encoder that embedded the centres.")
    encoder_hash: str
    dim: int
    knowledge_base: str | None = None
    created_at: str = Field(default_factory=now)
    classes: list[CentreClass]


# -- the [C, K, d] tensor --------------------------------------------------------------------
def centre_tensor(groups: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack per-class centre sets ``[k_c, d]`` into ``centres [C, K, d]`` and ``mask [C, K]``.

    Rows are normalised; a class with fewer than ``K = max k_c`` centres is
    padded with copies of its first centre (so a plain maximum over the K
    slots is already right) and ``mask`` marks the real slots.
    """
    if not groups:
        raise ValueError("no classes")
    if any(g.ndim != 2 or g.shape[0] == 0 for g in groups):
        raise ValueError("every class needs a [k, d] set with k >= 1")
    width, dim = max(g.shape[0] for g in groups), groups[0].shape[1]
    centres = torch.empty(len(groups), width, dim, dtype=torch.float32)
    mask = torch.zeros(len(groups), width, dtype=torch.bool)
    for c, group in enumerate(groups):
        group = F.normalize(group.float(), dim=-1)
        centres[c, :group.shape[0]] = group
        centres[c, group.shape[0]:] = group[0]
        mask[c, :group.shape[0]] = True
    return centres, mask


def chunk_rows_for(classes: int, width: int, budget_bytes: int = DEFAULT_CHUNK_BYTES) -> int:
    """Queries per chunk so that the [rows, C*K] float32 similarity block fits ``budget_bytes``."""
    return max(1, budget_bytes // (4 * classes * width))


class Scorer:
    """Scores queries against a padded centre tensor, chunk by chunk (prepared once).

    ``centres`` and ``mask`` as :func:`centre_tensor` makes them: each class's
    padding slots hold a copy of its first centre.
    """

    def __init__(self, centres: torch.Tensor, mask: torch.Tensor, reduce: Reduce = "max",
                 temperature: float = 0.05, chunk_bytes: int = DEFAULT_CHUNK_BYTES):
        if reduce not in ("max", "mean", "softmax"):
            raise ValueError(f"unknown reduce {reduce!r} (max, mean, softmax)")
        self.classes, self.width, self.dim = centres.shape
        self.reduce, self.temperature = reduce, float(temperature)
        counts = mask.sum(1)
        if reduce == "mean" or self.width == 1:
            # mean of cosines to unit centres == dot with the mean centre (linear); one centre: all agree
            summed = (centres * mask.unsqueeze(-1)).sum(1)
            self.weight = (summed / counts.unsqueeze(-1)).contiguous()
            self.slots = 1
        elif reduce == "max":
            self.weight = centres.reshape(self.classes * self.width, self.dim).contiguous()
            self.slots = self.width
        else:
            # the temperature is folded into the weights, so the product yields cos / t directly
            flat = centres.reshape(self.classes * self.width, self.dim)
            self.weight = (flat / self.temperature).contiguous()
            self.slots = self.width
            self.padding = (self.width - counts).float()   # slots that repeat slot 0
            self.log_counts = counts.float().log()
        self.rows = chunk_rows_for(self.classes, self.slots, chunk_bytes)
        self._buffer: torch.Tensor | None = None

    @property
    def chunk_bytes(self) -> int:
        """Working memory of one chunk: the similarity block plus its [rows, C] result."""
        return 4 * self.rows * self.classes * (self.slots + 1)

    def chunk(self, queries: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """Scores ``[n, C]`` of at most ``self.rows`` queries (assumed unit norm)."""
        n = queries.shape[0]
        if out is None:
            out = torch.empty(n, self.classes, device=self.weight.device)
        if self.slots == 1:
            return torch.mm(queries, self.weight.T, out=out)
        if self._buffer is None or self._buffer.shape[0] < n:
            self._buffer = torch.empty(n, self.classes * self.width, device=self.weight.device)
        block = self._buffer[:n]
        torch.mm(queries, self.weight.T, out=block)
        sims = block.view(n, self.classes, self.width)
        if self.reduce == "max":
            return torch.amax(sims, dim=-1, out=out)
        # t * log(mean over the real slots of exp(cos / t)), in place in the block (no second block):
        # the maximum is the same with or without the padding copies; their terms are taken back out.
        peak = torch.amax(sims, dim=-1, out=out)
        sims.sub_(peak.unsqueeze(-1)).exp_()
        total = sims.sum(-1).sub_(sims[:, :, 0] * self.padding)
        return peak.add_(total.log_()).sub_(self.log_counts).mul_(self.temperature)

    def iter_chunks(self, queries: torch.Tensor) -> Iterator[tuple[int, torch.Tensor]]:
        """``(start, scores)`` per chunk: memory stays bounded however many queries there are."""
        for start in range(0, queries.shape[0], self.rows):
            part = F.normalize(queries[start:start + self.rows].float(), dim=-1)
            yield start, self.chunk(part)

    def __call__(self, queries: torch.Tensor) -> torch.Tensor:
        out = torch.empty(queries.shape[0], self.classes, device=self.weight.device)
        for start in range(0, queries.shape[0], self.rows):
            part = F.normalize(queries[start:start + self.rows].float(), dim=-1)
            self.chunk(part, out[start:start + part.shape[0]])
        return out


def score_centres(queries: torch.Tensor, centres: torch.Tensor, mask: torch.Tensor, *, reduce: Reduce = "max",
                  temperature: float = 0.05, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> torch.Tensor:
    """Scores ``[N, C]`` of queries ``[N, d]`` against centre sets ``[C, K, d]`` (see :class:`Scorer`)."""
    return Scorer(centres, mask, reduce, temperature, chunk_bytes)(queries)


# -- centre sets -------------------------------------------------------------------------------
@dataclass
class CentreSet:
    """Centres of C classes, their mask, and what they were made from."""

    centres: torch.Tensor
    mask: torch.Tensor
    meta: CentreMeta
    path: Path | None = None
    #: ``[C]`` subtracted from each class's score (calibrated stacking of a trained space; None: nothing).
    offsets: torch.Tensor | None = None

    @property
    def labels(self) -> list[str]:
        return [c.name for c in self.meta.classes]

    @property
    def counts(self) -> list[int]:
        return self.mask.sum(1).tolist()

    def score(self, queries: torch.Tensor, *, reduce: Reduce | None = None, temperature: float | None = None,
              chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> torch.Tensor:
        """Cosine scores ``[N, C]`` of (unit-normalised) queries against every class."""
        if queries.shape[-1] != self.meta.dim:
            raise ValueError(f"queries are {queries.shape[-1]}-d, centres {self.meta.dim}-d "
                             f"(made with text encoder {self.meta.encoder.get('encoder')!r})")
        settings = self.meta.settings
        scores = score_centres(queries, self.centres, self.mask, reduce=reduce or settings.reduce,
                               temperature=temperature or settings.temperature, chunk_bytes=chunk_bytes)
        return scores if self.offsets is None else scores - self.offsets.to(scores.device, scores.dtype)

    def on(self, device: torch.device) -> CentreSet:
        """These centres on ``device`` (scoring runs where the queries are; :mod:`unibind.devices`)."""
        if self.centres.device == device:
            return self
        offsets = self.offsets.to(device) if self.offsets is not None else None
        return CentreSet(self.centres.to(device), self.mask.to(device), self.meta, self.path, offsets)

    def _index(self) -> dict[str, int]:
        index: dict[str, int] = {}
        for i, c in enumerate(self.meta.classes):
            index.setdefault(c.name.casefold(), i)
            if c.class_id:
                index.setdefault(c.class_id, i)
        return index

    def missing(self, labels: Sequence[str]) -> list[str]:
        """Those of ``labels`` this set has no centres for (matched as :meth:`select` matches them)."""
        index = self._index()
        return [label for label in labels if label.strip().casefold() not in index and label.strip() not in index]

    def joined(self, other: CentreSet) -> CentreSet:
        """These classes followed by ``other``'s (same text side), re-padded to one ``[C, K, d]`` tensor.

        The settings and knowledge base stay this set's: ``other``'s classes say what each was made from.
        """
        if other.meta.encoder_hash != self.meta.encoder_hash or other.meta.dim != self.meta.dim:
            raise ValueError("centre sets from different text sides cannot be joined")
        groups = [s.centres[c][s.mask[c]] for s in (self, other) for c in range(len(s.meta.classes))]
        centres, mask = centre_tensor(groups)
        meta = self.meta.model_copy(update={"classes": self.meta.classes + other.meta.classes})
        offsets = None
        if self.offsets is not None or other.offsets is not None:
            offsets = torch.cat([s.offsets if s.offsets is not None else torch.zeros(len(s.meta.classes))
                                 for s in (self, other)])
        return CentreSet(centres, mask, meta, self.path, offsets)

    def select(self, labels: Sequence[str]) -> CentreSet:
        """The classes named by ``labels`` (name, case-insensitive, or WordNet id), in that order."""
        index = self._index()
        missing = self.missing(labels)
        if missing:
            import difflib

            names = [c.name for c in self.meta.classes]
            close = sorted({m for label in missing for m in difflib.get_close_matches(label, names, n=2)})
            shown = ", ".join(names[:40]) + (f", ... ({len(names) - 40} more)" if len(names) > 40 else "")
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise InputError(self.path or "centres", f"no centres for {', '.join(map(repr, missing))}; "
                             f"{hint}it has {len(names)} classes: {shown}")
        order = [index.get(label.strip(), index.get(label.strip().casefold())) for label in labels]
        meta = self.meta.model_copy(update={"classes": [self.meta.classes[i] for i in order]})
        offsets = self.offsets[order] if self.offsets is not None else None
        return CentreSet(self.centres[order], self.mask[order], meta, self.path, offsets)

    def check_encoder(self, identity_hash: str) -> None:
        """Refuse queries from another text space than the one the centres were embedded in."""
        if identity_hash != self.meta.encoder_hash:
            raise InputError(self.path or "centres",
                             f"made with text encoder {self.meta.encoder.get('encoder')!r} "
                             f"(identity {self.meta.encoder_hash}), but this space's text encoder has "
                             f"identity {identity_hash} (different weights or settings); rebuild them "
                             f"with `{self.rebuild_command()}`")

    def rebuild_command(self) -> str:
        """The ``unibind kb centres`` command that makes these centres again with today's encoder."""
        import shlex

        s = self.meta.settings
        words = ["unibind", "kb", "centres"]
        if self.meta.knowledge_base:
            words += ["--kb", self.meta.knowledge_base]
        words += ["--classes", ",".join(c.name for c in self.meta.classes), "--method", s.method,
                  "--modality", s.modality, "--reduce", s.reduce]
        if s.method == "ecl":
            words += ["--k", str(s.k)]
        if s.prompt:
            words += ["--prompt", s.prompt]
        for source in s.sources:
            words += ["--source", source]
        encoder = self.meta.encoder.get("encoder")
        if encoder:
            words += ["--text-encoder", str(encoder)]
        words += ["--out", str(self.path or "centres.safetensors")]
        return shlex.join(words)

    def save(self, path: str | Path) -> Path:
        """One safetensors file, written atomically: tensors plus the JSON metadata in its header."""
        from unibind.atomic import save_tensors

        path = Path(path)
        save_tensors({"centres": self.centres, "mask": self.mask}, path,
                     metadata={"format": FORMAT, "unibind_centres": self.meta.model_dump_json()})
        self.path = path
        return path

    @classmethod
    def load(cls, path: str | Path) -> CentreSet:
        from safetensors import SafetensorError, safe_open

        path = Path(path)
        if not path.is_file():
            raise InputError(path, "no centres file here")
        try:
            with safe_open(str(path), framework="pt") as fh:
                header = fh.metadata() or {}
                if header.get("format") != FORMAT:
                    raise InputError(path, "not a UniBind centres file (no 'unibind-centres' metadata)")
                centres, mask = fh.get_tensor("centres"), fh.get_tensor("mask").bool()
        except SafetensorError as exc:
            raise InputError(path, f"not a safetensors file: {exc}") from exc
        meta = CentreMeta.model_validate_json(header["unibind_centres"])
        if (centres.shape[0] != len(meta.classes) or centres.shape[2] != meta.dim
                or mask.shape != centres.shape[:2]):
            raise InputError(path, f"tensor shapes {tuple(centres.shape)} disagree with the metadata")
        if [len(c.texts) for c in meta.classes] != mask.sum(1).tolist():
            raise InputError(path, "mask and the listed centre texts disagree")
        if not bool(mask[:, 0].all()) or not torch.equal(
                torch.where(mask.unsqueeze(-1), centres, centres[:, :1]), centres):
            raise InputError(path, "padding slots must repeat each class's first centre")
        return cls(centres.float(), mask, meta, path)


# -- localization ------------------------------------------------------------------------------
def canonical_prompt(ref: ClassRef, settings: CentreSettings) -> str:
    if settings.prompt:
        return settings.prompt.format(ref.text_name)
    from unibind.knowledge.templates import TemplateSource

    return TemplateSource().canonical_prompt(ref.name, settings.modality)


def localize(classes: Sequence[ClassRef], embedder: Any, settings: CentreSettings | None = None, *,
             kb: Any = None, progress: bool | None = None, group: int = 64) -> CentreSet:
    """Centre sets of ``classes`` by ``settings.method``, embedded with ``embedder`` (a TextEmbedder).

    Classes are processed ``group`` at a time, so only their descriptions'
    embeddings are in memory at once.
    """
    from unibind.progress import track

    settings = settings or CentreSettings()
    if settings.method in ("ecl", "mean"):
        if kb is None:
            raise ValueError(f"method {settings.method!r} needs a knowledge base")
        classes = [kb.resolve(ref) for ref in classes]
    groups: list[torch.Tensor] = []
    records: list[CentreClass] = []
    empty: list[ClassRef] = []
    batches = [list(classes[i:i + group]) for i in range(0, len(classes), group)]
    for batch in track(batches, description=f"centres ({settings.method})", enabled=progress):
        for ref, (vectors, record) in zip(batch, _localize_group(batch, embedder, settings, kb)):
            if vectors is None:
                empty.append(ref)
                continue
            groups.append(vectors)
            records.append(record)
    if empty:
        raise InputError(getattr(kb, "path", "knowledge base"),
                         f"no {'/'.join(settings.kinds)} texts for {len(empty)} class(es): "
                         f"{', '.join(r.name for r in empty[:10])}{' ...' if len(empty) > 10 else ''}"
                         + (f" from sources {settings.sources}" if settings.sources else "")
                         + f" for {settings.modality} centres" + what_was_found(kb, empty, settings)
                         + " (run `unibind kb build`, or set on_empty='prompt')")
    centres, mask = centre_tensor(groups)
    meta = CentreMeta(settings=settings, encoder=embedder.identity, encoder_hash=embedder.hash,
                      dim=centres.shape[-1], knowledge_base=str(kb.path) if kb is not None else None,
                      classes=records)
    return CentreSet(centres, mask, meta)


def what_was_found(kb: Any, refs: Sequence[ClassRef], settings: CentreSettings) -> str:
    """What the knowledge base does hold for classes that got no centres, and why it did not count."""
    if kb is None:
        return ""
    held: dict[tuple[str, str, str], int] = {}
    for d in kb.descriptions(refs):
        key = (d.kind, d.provenance.source, d.modality or "any modality")
        held[key] = held.get(key, 0) + 1
    if not held:
        return "; the knowledge base holds no texts of them at all"
    parts = [f"{n} {kind} from {source} for {modality}" for (kind, source, modality), n in sorted(held.items())]
    why = [f"centres for {settings.modality} use texts for {settings.modality} or for any modality"]
    if settings.sources:
        why.append(f"only from {', '.join(settings.sources)}")
    else:
        why.append(f"not the prompt templates (the baseline; name source {TEMPLATE_SOURCE!r} to use them)")
    why.append(f"of kind {'/'.join(settings.kinds)}")
    return f"; it holds {', '.join(parts)}, which do not count: {', '.join(why)}"


def _candidates(batch: Sequence[ClassRef], settings: CentreSettings, kb: Any) -> dict[str, list]:
    """Each class's knowledge-base texts that may become its centres (class key -> descriptions)."""
    found = kb.descriptions(batch, sources=settings.sources or None, modality=settings.modality)
    per_class: dict[str, list] = {ref.key: [] for ref in batch}
    for d in found:  # prompt templates are the baseline, not descriptions, unless named as a source
        if d.kind in settings.kinds and (settings.sources or d.provenance.source != TEMPLATE_SOURCE):
            per_class[d.class_ref.key].append(d)
    return per_class


def texts_digest(texts: Iterable[str]) -> str:
    """Order-free digest of the texts a class's centres were chosen among."""
    import hashlib

    return hashlib.sha256("\n".join(sorted(texts)).encode("utf-8")).hexdigest()[:24]


def stale_classes(centres: CentreSet, kb: Any = None) -> list[str] | None:
    """Classes whose candidate texts differ today from when ``centres`` were made; None: cannot tell.

    ``kb`` (an open KnowledgeBase) defaults to the file the centres name, opened
    read-only; it is None when that file is gone or the centres predate digests.
    """
    settings = centres.meta.settings
    classes = [c for c in centres.meta.classes if c.candidates_digest is not None]
    if not classes or settings.method not in ("ecl", "mean", "templates"):
        return None
    refs = [ClassRef(name=c.name, class_id=c.class_id) for c in classes]
    if settings.method == "templates":
        from unibind.knowledge.templates import TemplateSource

        source = TemplateSource()
        now_digest = {r.key: texts_digest(source.class_descriptions(r.name, settings.modality)) for r in refs}
        return [c.name for c, r in zip(classes, refs) if now_digest[r.key] != c.candidates_digest]
    if kb is None:
        from unibind.knowledge.store import KnowledgeBase

        path = centres.meta.knowledge_base
        if not path or not Path(path).is_file():
            return None
        with KnowledgeBase(path, read_only=True) as opened:
            return stale_classes(centres, opened)
    resolved = [kb.resolve(r) for r in refs]
    per_class = _candidates(resolved, settings, kb)
    return [c.name for c, r in zip(classes, resolved)
            if texts_digest(d.text for d in per_class[r.key]) != c.candidates_digest]


def _template_means(batch: Sequence[ClassRef], embedder: Any, settings: CentreSettings,
                    fallback: bool = False) -> list[tuple[torch.Tensor, CentreClass]]:
    """Each class's one centre: the normalised-later mean of its modality's prompt templates."""
    from unibind.knowledge.templates import TemplateSource

    source = TemplateSource()
    texts = [source.class_descriptions(ref.name, settings.modality) for ref in batch]
    flat = embedder([t for group in texts for t in group])
    out, start = [], 0
    for ref, group in zip(batch, texts):
        mean = flat[start:start + len(group)].mean(0, keepdim=True)
        start += len(group)
        out.append((mean, CentreClass(name=ref.name, class_id=ref.class_id, candidates=len(group),
                                      candidates_digest=texts_digest(group), fallback=fallback, texts=[
            CentreText(text=f"mean of {len(group)} {settings.modality} prompt templates",
                       source="templates")])))
    return out


def _localize_group(batch: list[ClassRef], embedder: Any, settings: CentreSettings,
                    kb: Any) -> list[tuple[torch.Tensor | None, CentreClass | None]]:
    prompts = [canonical_prompt(ref, settings) for ref in batch]
    method = settings.method
    if method == "name":
        vectors = embedder([ref.text_name for ref in batch])
        return [(vectors[i:i + 1], CentreClass(name=ref.name, class_id=ref.class_id, texts=[
            CentreText(text=ref.text_name, source="class-name")])) for i, ref in enumerate(batch)]
    if method == "templates":
        return _template_means(batch, embedder, settings)
    per_class = _candidates(batch, settings, kb)
    ordered = [d for ref in batch for d in per_class[ref.key]]   # grouped by class, insertion order within
    desc_vectors = embedder([d.text for d in ordered]) if ordered else torch.empty(0)
    prompt_vectors = embedder(prompts) if method == "ecl" or settings.on_empty == "prompt" else None
    offsets, start = {}, 0
    for ref in batch:
        offsets[ref.key] = start
        start += len(per_class[ref.key])
    empty = [ref for ref in batch if not per_class[ref.key]]
    stand_ins = iter(_template_means(empty, embedder, settings, fallback=True)
                     if empty and settings.on_empty == "templates" else [])   # one embedder call for the batch
    out: list[tuple[torch.Tensor | None, CentreClass | None]] = []
    for i, ref in enumerate(batch):
        descs = per_class[ref.key]
        base = {"name": ref.name, "class_id": ref.class_id, "prompt": prompts[i], "candidates": len(descs),
                "candidates_digest": texts_digest(d.text for d in descs)}
        if not descs:
            if settings.on_empty == "templates":
                out.append(next(stand_ins))
            elif settings.on_empty == "prompt":
                vector = prompt_vectors[i:i + 1]  # type: ignore[index]
                out.append((vector, CentreClass(**base, fallback=True, texts=[
                    CentreText(text=prompts[i], source="canonical-prompt")])))
            else:
                out.append((None, None))
            continue
        vectors = desc_vectors[offsets[ref.key]:offsets[ref.key] + len(descs)]
        if method == "mean":
            out.append((vectors.mean(0, keepdim=True), CentreClass(**base, texts=[CentreText(
                text=f"mean of {len(descs)} descriptions", source=",".join(sorted({
                    d.provenance.source for d in descs})))])))
            continue
        sims = vectors @ prompt_vectors[i]  # type: ignore[index]
        order = torch.sort(sims, descending=True, stable=True).indices[:settings.k].tolist()
        chosen = vectors[order]
        texts = [CentreText(id=descs[j].id, text=descs[j].text, source=descs[j].provenance.source,
                            similarity=round(float(sims[j]), 6)) for j in order]
        if settings.include_prompt:
            chosen = torch.cat([prompt_vectors[i:i + 1], chosen])  # type: ignore[index]
            texts.insert(0, CentreText(text=prompts[i], source="canonical-prompt", similarity=1.0))
        out.append((chosen, CentreClass(**base, texts=texts)))
    return out


# -- benchmark ---------------------------------------------------------------------------------
def bench_centres(classes: int = 1000, k: int = 50, dim: int = 384, queries: int = 100_000, *,
                  reduce: Reduce = "max", chunk_bytes: int = DEFAULT_CHUNK_BYTES, ragged: bool = True,
                  seed: int = 0) -> dict[str, Any]:
    """Segmented-max scoring throughput next to a bare ``torch.mm`` of the same shapes, as a ratio.

    Both run chunk by chunk on the same queries, interleaved (ours, bare,
    ours, bare...), so a busy machine slows both alike. The bare product
    writes the same [rows, C*K] block into a preallocated buffer and does
    nothing else; ours is :meth:`Scorer.chunk` (product + segmented
    reduction into [rows, C]) on normalised queries. Peak memory is given
    two ways: the chunk arithmetic (what the scorer allocates per chunk),
    and the measured growth of the process's resident set from just before
    the scorer is built to the end of scoring (sampled from
    /proc/self/statm every millisecond by a thread, since tracemalloc does
    not see torch's allocations; ``ru_maxrss`` growth is reported beside
    it, and is 0 when the process peaked earlier, e.g. creating inputs).
    """
    import resource

    gen = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(classes, k, dim, generator=gen), dim=-1)
    counts = (torch.randint(max(1, k // 2), k + 1, (classes,), generator=gen) if ragged
              else torch.full((classes,), k))
    groups = [centres[c, :int(counts[c])] for c in range(classes)]
    padded, mask = centre_tensor(groups)
    del centres, groups
    data = F.normalize(torch.randn(queries, dim, generator=gen), dim=-1)
    weight = padded.reshape(classes * k, dim)
    rows = min(queries, chunk_rows_for(classes, k if reduce != "mean" else 1, chunk_bytes))
    bare_buffer = torch.zeros(rows, classes * k)          # the harness's: touched before the baseline, so
    out_chunk = torch.zeros(rows, classes)                # the growth measured below is the scorer's own
    sampler = _RssSampler()
    base_rss, base_maxrss = sampler.current(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sampler.start()
    scorer = Scorer(padded, mask, reduce, chunk_bytes=chunk_bytes)
    scorer.chunk(data[:rows], out_chunk[:rows])           # warm up both kernels (thread pools, buffers)
    torch.mm(data[:rows], weight.T, out=bare_buffer[:rows])
    t_ours = t_bare = 0.0
    for start in range(0, queries, rows):
        q = data[start:start + rows]
        n = q.shape[0]
        t0 = time.perf_counter()
        scorer.chunk(F.normalize(q, dim=-1), out_chunk[:n])
        t1 = time.perf_counter()
        torch.mm(q, weight.T, out=bare_buffer[:n])
        t2 = time.perf_counter()
        t_ours += t1 - t0
        t_bare += t2 - t1
    peak_rss = sampler.stop()
    maxrss_growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base_maxrss) * 1024
    # check ours against the masked reference on the first chunk (after measuring: it allocates)
    first = data[:rows]
    reference = (first @ weight.T).view(-1, classes, k).masked_fill(~mask, float("-inf")).amax(-1)
    agrees = bool(torch.allclose(scorer.chunk(first), reference, atol=1e-5)) if reduce == "max" else None
    flops = 2.0 * queries * dim * classes * k
    return {
        "classes": classes, "k": k, "dim": dim, "queries": queries, "reduce": reduce,
        "centres_per_class": {"min": int(counts.min()), "max": int(counts.max())},
        "chunk_rows": rows, "chunks": math.ceil(queries / rows),
        "ours_s": t_ours, "bare_s": t_bare,
        "ours_queries_per_s": queries / t_ours, "bare_queries_per_s": queries / t_bare,
        "ratio": t_bare / t_ours, "bare_gflops": flops / t_bare / 1e9,
        "chunk_bytes": scorer.chunk_bytes,
        "centre_bytes": padded.numel() * 4,
        "query_bytes": data.numel() * 4,
        "full_output_bytes": queries * classes * 4,
        "rss_growth_bytes": max(0, peak_rss - base_rss),
        "maxrss_growth_bytes": max(0, maxrss_growth),
        "agrees_with_reference": agrees,
        "threads": torch.get_num_threads(),
    }


class _RssSampler:
    """Peak resident set size of this process, sampled by a thread while torch works (GIL released)."""

    def __init__(self, interval: float = 0.001):
        import threading

        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._page = __import__("os").sysconf("SC_PAGE_SIZE")

    def current(self) -> int:
        try:
            with open("/proc/self/statm") as fh:
                return int(fh.read().split()[1]) * self._page
        except OSError:
            return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            self._stop.wait(self.interval)

    def start(self) -> None:
        self.peak = self.current()
        self._thread.start()

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak, self.current())


def describe_centres(centres: CentreSet) -> str:
    """A short human summary (for the CLI)."""
    m = centres.meta
    counts = centres.counts
    return (f"{len(m.classes)} classes, {min(counts)}-{max(counts)} centres each, {m.dim}-d, method "
            f"{m.settings.method}" + (f" k={m.settings.k}" if m.settings.method == "ecl" else "")
            + f", text encoder {m.encoder.get('encoder')!r}, scoring {m.settings.reduce}"
            + (f" (sources {', '.join(m.settings.sources)})" if m.settings.sources else ""))
