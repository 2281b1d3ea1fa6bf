"""Frozen-encoder features through the one feature cache: files, in-memory samples, or tar members.

Every command that runs a frozen encoder over data (train, demo, evaluate,
embed) goes through here, so an item is encoded once per encoder identity,
whichever command saw it first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from unibind.batching import prepared_batches
from unibind.devices import autocast, module_device, resolve, resolve_precision, to_device, to_host
from unibind.errors import InputError
from unibind.features.cache import FeatureCache
from unibind.features.keys import array_key, file_key
from unibind.identity import module_digest, portable, source_identity
from unibind.progress import track
from unibind.results import Failure

FORMAT_VERSION = 2


def encoder_identity(modality: str, loader_settings: Any, encoder_name: str, encoder: Any,
                     encoder_settings: Any) -> dict[str, Any]:
    """What an encoder's features depend on: loader and encoder settings, class, model content, dim.

    A model from local files is identified by their SHA-256 (memoised); one
    without local files (a hub name, or built in code) by a digest of its weights.
    """
    def dump(settings: Any) -> Any:
        return portable(settings.model_dump(mode="json")) if settings is not None else None

    source = source_identity(getattr(encoder, "source", None))
    identity = {
        "format": FORMAT_VERSION,
        "modality": modality,
        "loader_settings": dump(loader_settings),
        "encoder": encoder_name,
        "encoder_class": f"{type(encoder).__module__}.{type(encoder).__qualname__}",
        "encoder_settings": dump(encoder_settings),
        **source,
        "dim": int(encoder.dim),
    }
    if source["files"] is None:
        identity["weights"] = module_digest(encoder)
    return identity


@dataclass
class FrozenEncoder:
    """A modality's loader and frozen encoder, and what identifies the features they make.

    ``identity`` is the model's (what a space records); ``cache_identity`` adds
    the inference precision when it is not fp32, since bf16 features differ. The
    device is in neither: features on a GPU equal those on the CPU up to float
    rounding, so a cache filled on one serves the other.
    """

    modality: str
    loader: Any
    encoder: Any
    encoder_name: str
    identity: dict[str, Any]
    device: torch.device | None = None  # None: where the encoder's weights are
    precision: str = "fp32"

    def __post_init__(self) -> None:
        if self.device is None:
            self.device = module_device(self.encoder) if hasattr(self.encoder, "parameters") else torch.device("cpu")

    @property
    def cache_identity(self) -> dict[str, Any]:
        """What the feature cache keys these features by."""
        return self.identity if self.precision == "fp32" else {**self.identity, "precision": self.precision}

    def features(self, batch: Any) -> torch.Tensor:
        """The encoder's ``[N, dim]`` float32 features of a preprocessed batch, on the CPU."""
        with autocast(self.device, self.precision):
            out = self.encoder(to_device(batch, self.device))
        return to_host(out.float())

    def encode(self, samples: Sequence[Any], batch_size: int = 32) -> torch.Tensor:
        """The encoder's features of loaded samples (its own ``encode``), under the precision, on the CPU."""
        with autocast(self.device, self.precision):
            return to_host(self.encoder.encode(samples, batch_size=batch_size).float())

    @classmethod
    def from_registry(cls, modality: str, encoder: str | None = None, *, registry: Any = None,
                      settings: dict[str, dict[str, Any]] | None = None, device: Any = None,
                      precision: str | None = None, pool: Any = None) -> FrozenEncoder:
        """Build ``modality``'s loader and encoder (``encoder`` by name, else the default).

        ``settings`` maps component names (the modality's, the encoder's) to
        their settings, as for :class:`~unibind.space.Space`; ``device`` and
        ``precision`` as there (default: the current setting, :mod:`unibind.devices`); ``pool``
        (:class:`~unibind.encoders.pool.EncoderPool`) hands out an encoder it already built.
        """
        device = resolve(device)
        precision = resolve_precision(precision, device)
        if registry is None:
            from unibind.plugins import get_registry

            registry = get_registry()
        settings = settings or {}
        mod_spec = registry.get("modality", modality)
        enc_spec = registry.get("encoder", encoder) if encoder else registry.default("encoder", modality)
        if getattr(enc_spec, "modality", modality) != modality:
            raise InputError(enc_spec.name, f"encodes {enc_spec.modality!r}, not {modality!r}")
        loader = mod_spec.build(settings.get(modality))
        model = (pool.build(enc_spec, settings.get(enc_spec.name), device) if pool is not None
                 else enc_spec.build(settings.get(enc_spec.name)))
        freeze = getattr(model, "freeze", None)
        if callable(freeze):
            freeze()
        identity = encoder_identity(modality, mod_spec.make_settings(settings.get(modality)), enc_spec.name, model,
                                    enc_spec.make_settings(settings.get(enc_spec.name)))
        if hasattr(model, "to"):
            model.to(device)
        return cls(modality, loader, model, enc_spec.name, identity, device, precision)

    @classmethod
    def from_space(cls, space: Any, modality: str) -> FrozenEncoder:
        """The loader and encoder a :class:`~unibind.space.Space` uses for ``modality``."""
        pipe = space.pipeline(modality)
        spec = space.registry.get("encoder", pipe.encoder_name)
        loader_settings = getattr(pipe.loader, "settings", None)
        if not hasattr(loader_settings, "model_dump"):
            loader_settings = space.registry.get("modality", modality).make_settings(None)
        identity = encoder_identity(modality, loader_settings, pipe.encoder_name, pipe.encoder,
                                    spec.make_settings(space.settings.get(pipe.encoder_name)))
        return cls(modality, pipe.loader, pipe.encoder, pipe.encoder_name, identity, getattr(space, "device", None),
                   getattr(space, "precision", "fp32"))

    @property
    def dim(self) -> int:
        return int(self.encoder.dim)


@dataclass
class Features:
    """Features of the files that worked, in input order, and the ones that did not."""

    vectors: torch.Tensor
    sources: list[str]
    hashes: list[str]   # content keys of the rows
    failures: list[Failure] = field(default_factory=list)
    encoded: int = 0  # samples that went through the encoder in this call (0: all from the cache)
    warnings: list[Failure] = field(default_factory=list)  # encoded, but doubtful (e.g. silent audio)


def extract_features(paths: Sequence[str | Path], frozen: FrozenEncoder, cache: FeatureCache | None = None, *,
                     batch_size: int = 32, workers: int = 0, progress: bool | None = None,
                     keys: Sequence[str] | None = None, rows: bool = True) -> Features:
    """Encode ``paths`` with a frozen encoder, through ``cache`` when given.

    Only files whose content is not cached yet are decoded and encoded
    (each distinct content once), batched, with ``workers`` decoding in
    worker processes. Unreadable files are skipped and reported. ``keys``
    gives the content keys when known already (e.g. of tar members spooled
    to scratch files); ``rows=False`` only fills the cache.
    """
    failures: list[Failure] = []
    hashes: dict[str, str] = {}
    for n, path in enumerate(map(str, paths)):
        if keys is not None:
            hashes[path] = keys[n]
            continue
        try:
            hashes[path] = file_key(path)
        except OSError as exc:
            failures.append(Failure(source=path, reason=f"cannot read: {exc.strerror or exc}"))
    known = cache.cached(hashes.values()) if cache is not None else set()
    fresh: dict[str, np.ndarray] = {}
    todo: dict[str, str] = {}
    queued: set[str] = set()
    for path, h in hashes.items():
        if h not in known and h not in queued:
            todo[path] = h
            queued.add(h)
    noted: list[Failure] = []
    batches = prepared_batches(list(todo), frozen.loader, frozen.encoder, batch_size=batch_size, workers=workers,
                               device=frozen.device)
    total = -(-len(todo) // batch_size)
    show = progress if progress is not None else total > 1
    encoded = 0
    with torch.inference_mode():
        for prepared in track(batches, total=total, description=f"encoding {frozen.modality}", enabled=show):
            failures.extend(prepared.failures)
            noted.extend(prepared.warnings)
            if not prepared.sources:
                continue
            vectors = frozen.features(prepared.batch).numpy()
            encoded += len(prepared.sources)
            for source, vector in zip(prepared.sources, vectors):
                if cache is not None:
                    cache.add(todo[source], source, vector)
                if rows or cache is None:
                    fresh[todo[source]] = vector
    if cache is not None:
        cache.flush()
    features = _assemble(list(hashes), hashes, fresh, todo, failures, cache, frozen.dim, encoded, rows)
    features.warnings = noted
    return features


def _assemble(order: list[str], hashes: dict[str, str], fresh: dict[str, np.ndarray], todo: dict[str, str],
              failures: list[Failure], cache: FeatureCache | None, dim: int, encoded: int, rows: bool) -> Features:
    bad = {f.source for f in failures}
    have = set(fresh) | (cache.cached(hashes.values()) if cache is not None else set())
    kept = [p for p in order if p not in bad and hashes[p] in have]
    failed_hashes = {todo[s] for s in bad if s in todo}
    for path in order:  # a duplicate of a file that failed fails too
        if path not in bad and path not in kept and hashes[path] in failed_hashes:
            failures.append(Failure(source=path, reason="same content as a file that failed"))
    if not rows:
        return Features(torch.empty(0, dim), kept, [hashes[p] for p in kept], failures, encoded)
    from_cache = [hashes[p] for p in kept if hashes[p] not in fresh]
    cached = dict(zip(from_cache, cache.rows(from_cache))) if cache is not None and from_cache else {}
    stacked = [fresh[hashes[p]] if hashes[p] in fresh else cached[hashes[p]] for p in kept]
    vectors = torch.from_numpy(np.stack(stacked)) if stacked else torch.empty(0, dim)
    return Features(vectors, kept, [hashes[p] for p in kept], failures, encoded)


def extract_samples(samples: Sequence[Any], frozen: FrozenEncoder, cache: FeatureCache | None = None, *,
                    names: Sequence[str] | None = None, batch_size: int = 32,
                    progress: bool | None = None) -> Features:
    """Features of in-memory samples (arrays, tensors, PIL images), keyed by their bytes."""
    names = list(names) if names is not None else [f"#{n}" for n in range(len(samples))]
    hashes = {name: array_key(sample) for name, sample in zip(names, samples)}
    by_name = dict(zip(names, samples))
    known = cache.cached(hashes.values()) if cache is not None else set()
    todo: dict[str, str] = {}
    for name, h in hashes.items():
        if h not in known and h not in todo.values():
            todo[name] = h
    fresh: dict[str, np.ndarray] = {}
    pending = list(todo)
    chunks = [pending[i:i + batch_size] for i in range(0, len(pending), batch_size)]
    with torch.inference_mode():
        for chunk in track(chunks, description=f"encoding {frozen.modality}",
                           enabled=progress if progress is not None else len(chunks) > 1):
            vectors = frozen.encode([by_name[n] for n in chunk], batch_size=batch_size).numpy()
            for name, vector in zip(chunk, vectors):
                fresh[todo[name]] = vector
                if cache is not None:
                    cache.add(todo[name], name, vector)
    if cache is not None:
        cache.flush()
    return _assemble(names, hashes, fresh, todo, [], cache, frozen.dim, len(fresh), True)


@dataclass
class CachedRows:
    """Rows of a feature cache by content key, read on demand (a DDP rank reads only its part)."""

    cache: FeatureCache
    hashes: list[str]

    def __len__(self) -> int:
        return len(self.hashes)

    @property
    def dim(self) -> int:
        return self.cache.dim

    def __getitem__(self, index: torch.Tensor | Sequence[int]) -> torch.Tensor:
        picked = [self.hashes[i] for i in torch.as_tensor(index).tolist()]
        return torch.from_numpy(self.cache.rows(picked))


