"""Load and preprocess files in worker processes, batch by batch, keeping failures apart.

Decoding is the slow part for audio, video and event streams; torch's
DataLoader runs it in worker processes while the encoder works on the
previous batch. A file that fails becomes a :class:`Failure`, never an
exception that ends the run.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch.utils.data import DataLoader, Dataset

from unibind.errors import InputError, InputWarning
from unibind.results import Failure


@dataclass
class PreparedBatch:
    """A stacked batch of preprocessed inputs, their sources, and what failed on the way."""

    batch: Any
    sources: list[str]
    failures: list[Failure]
    warnings: list[Failure] = field(default_factory=list)  # used, but doubtful (e.g. silent audio)

    def pin_memory(self) -> PreparedBatch:
        """The batch in page-locked memory (called by the DataLoader when it pins for a CUDA device)."""
        from unibind.devices import pin

        return PreparedBatch(pin(self.batch), self.sources, self.failures, self.warnings)


class _Prepare(Dataset):
    def __init__(self, paths: Sequence[Path], loader: Any, encoder: Any):
        self.paths, self.loader, self.encoder = list(paths), loader, encoder

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[str, Any, str | None]:
        path = self.paths[index]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", InputWarning)
            item = self._prepare(path)
        noted = [w.message.problem for w in caught if isinstance(w.message, InputWarning)]
        for w in caught:
            if not isinstance(w.message, InputWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return (*item, noted)

    def _prepare(self, path: Path) -> tuple[str, Any, str | None]:
        try:
            return str(path), self.encoder.preprocess(self.loader.load(path)), None
        except InputError as exc:
            return str(path), None, exc.problem
        except Exception as exc:  # noqa: BLE001 - one bad file must not end the batch
            return str(path), None, f"{type(exc).__name__}: {exc}"


def prepared_batches(paths: Sequence[str | Path], loader: Any, encoder: Any, *, batch_size: int = 32,
                     workers: int = 0, device: Any = None) -> Iterator[PreparedBatch]:
    """Yield preprocessed batches in input order; ``workers`` > 0 decodes in subprocesses.

    For a CUDA ``device`` the batches come in pinned memory, so the copy to the
    GPU can be non-blocking (:func:`unibind.devices.to_device`).
    """
    from unibind.devices import pin_memory

    dataset = _Prepare([Path(p) for p in paths], loader, encoder)

    def collate(items: list[tuple[str, Any, str | None, list[str]]]) -> PreparedBatch:
        good = [(src, t) for src, t, err, _ in items if err is None]
        failures = [Failure(source=src, reason=err) for src, _, err, _ in items if err is not None]
        noted = [Failure(source=src, reason=w) for src, _, err, ws in items if err is None for w in ws]
        batch = encoder.collate([t for _, t in good]) if good else None
        return PreparedBatch(batch, [src for src, _ in good], failures, noted)

    yield from DataLoader(dataset, batch_size=batch_size, num_workers=workers, collate_fn=collate,
                          persistent_workers=False, prefetch_factor=2 if workers else None,
                          pin_memory=device is not None and pin_memory(device))


def preprocess_all(paths: Sequence[str | Path], loader: Any, encoder: Any) -> tuple[list[Any], list[Failure]]:
    """Decode and preprocess every file up front (benchmarks time the encoder alone on these).

    Files that fail are returned as failures, never raised, like every batch path.
    """
    dataset = _Prepare([Path(p) for p in paths], loader, encoder)
    items = [dataset[i] for i in range(len(dataset))]
    return ([t for _, t, err, _ in items if err is None],
            [Failure(source=src, reason=err) for src, _, err, _ in items if err is not None])
