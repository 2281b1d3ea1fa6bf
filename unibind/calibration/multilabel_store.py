"""A space's multi-label calibrator: per-class temperature and bias, per-class thresholds, on disk.

``SPACE/multilabel/<modality>.safetensors`` holds the fitted tensors and, in
its header, the record (classes in order, settings, fitting counts, metrics);
the sibling ``.json`` is the same record for people. Both are written
atomically. Each class has its own sigmoid, so any subset of the fitted
classes can be scored; a class it was not fitted on is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, Field, ValidationError

from unibind.calibration.multilabel import (PerClassTemperature, PerClassTemperatureSettings, fit_thresholds,
                                            multilabel_report)
from unibind.errors import InputError
from unibind.knowledge.records import now

FORMAT = "unibind-multilabel"
FOLDER = "multilabel"


class MultiLabelRecord(BaseModel):
    """What a saved multi-label calibrator says about itself."""

    format: Literal["unibind-multilabel"] = FORMAT
    version: int = 1
    modality: str
    labels: list[str] = Field(description="Classes, in the order of the tensors.")
    settings: PerClassTemperatureSettings = Field(default_factory=PerClassTemperatureSettings)
    reduce: str | None = Field(default=None, description="Scoring over a class's centres it was fitted with.")
    fitted_on: int = Field(default=0, description="Held-out items it was fitted on.")
    positives: dict[str, int] = Field(default_factory=dict, description="Fitting items holding each class.")
    metrics: dict[str, Any] = Field(default_factory=dict, description="{'before': ..., 'after': ...} on the "
                                    "fitting data (multilabel_report).")
    domain: dict[str, Any] | None = Field(default=None, description="The fitting files' calibration domain "
                                          "(unibind.calibration.domain; its embeddings are in the tensors); "
                                          "None: fitted before it was recorded.")
    created_at: str = Field(default_factory=now)


@dataclass
class MultiLabelCalibrator:
    """Per-class sigmoid of cosine scores plus per-class thresholds, for the classes in ``record.labels``."""

    scaler: PerClassTemperature
    thresholds: torch.Tensor
    record: MultiLabelRecord
    path: Path | None = None
    #: the files it was fitted on (:class:`~unibind.calibration.domain.CalibrationDomain`); None: not recorded
    domain: Any = None

    @classmethod
    def fit(cls, scores: torch.Tensor, targets: torch.Tensor, labels: Sequence[str], modality: str, *,
            settings: PerClassTemperatureSettings | None = None, reduce: str | None = None,
            logit_scale: float = 100.0, vectors: torch.Tensor | None = None) -> MultiLabelCalibrator:
        """Fit on held-out cosine ``scores`` [N, C] and 0/1 ``targets`` [N, C] (thresholds: best F1 per class);
        ``vectors``, the files' embeddings, give it its calibration domain.

        ``before`` in the record is the uncalibrated sigmoid of ``logit_scale`` x cosine at 0.5.
        """
        from unibind.calibration.domain import CalibrationDomain

        scaler = PerClassTemperature(settings, classes=len(labels)).fit(scores, targets)
        probs = scaler(scores)
        thresholds = fit_thresholds(probs, targets)
        raw = torch.sigmoid(logit_scale * scores.float())
        metrics = {"before": multilabel_report(raw, targets, 0.5), "after": multilabel_report(probs, targets, thresholds)}
        record = MultiLabelRecord(modality=modality, labels=list(labels), settings=scaler.settings, reduce=reduce,
                                  fitted_on=int(scores.shape[0]), metrics=metrics,
                                  positives={c: int(n) for c, n in zip(labels, targets.sum(0).tolist())})
        domain = CalibrationDomain.fit(vectors) if vectors is not None else None
        record.domain = domain.settings() if domain is not None else None
        return cls(scaler, thresholds, record, domain=domain)

    def columns(self, labels: Sequence[str]) -> list[int]:
        """Column of each of ``labels`` (case-insensitive); a class it was not fitted on is refused."""
        index = {c.casefold(): i for i, c in enumerate(self.record.labels)}
        missing = [c for c in labels if c.casefold() not in index]
        if missing:
            raise InputError(self.path or f"multi-label calibrator ({self.record.modality})",
                             f"not fitted for {', '.join(map(repr, missing))}; it knows "
                             f"{', '.join(self.record.labels)}: fit it again with these classes")
        return [index[c.casefold()] for c in labels]

    def probabilities(self, scores: torch.Tensor, labels: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Calibrated probabilities [N, C] of cosine ``scores`` for ``labels`` (any of the fitted classes,
        in any order), and those classes' thresholds [C]."""
        cols = self.columns(labels)
        logits = (scores.float() - self.scaler.bias[cols]) / self.scaler.log_t[cols].exp()
        return torch.sigmoid(logits), self.thresholds[cols]

    def state_dict(self) -> dict[str, torch.Tensor]:
        domain = self.domain.tensors() if self.domain is not None else {}
        return {**self.scaler.state_dict(), "thresholds": self.thresholds.clone(), **domain}

    def describe(self) -> list[str]:
        """One line per class: temperature, bias, threshold, positives it was fitted on."""
        t, b = self.scaler.temperature.tolist(), self.scaler.bias.tolist()
        width = max(len(c) for c in self.record.labels)
        return [f"{c:<{width}}  T {ti:.4f}  bias {bi:+.4f}  threshold {th:.3f}  positives "
                f"{self.record.positives.get(c, 0)}"
                for c, ti, bi, th in zip(self.record.labels, t, b, self.thresholds.tolist())]


def multilabel_path(space_dir: str | Path, modality: str) -> Path:
    return Path(space_dir) / FOLDER / f"{modality}.safetensors"


def save_multilabel(space_dir: str | Path, calibrator: MultiLabelCalibrator) -> Path:
    """Write ``multilabel/<modality>.safetensors`` and its ``.json``; returns the safetensors path."""
    from unibind.atomic import atomic_open, save_tensors

    path = multilabel_path(space_dir, calibrator.record.modality)
    save_tensors(calibrator.state_dict(), path,
                 metadata={"format": FORMAT, "unibind_multilabel": calibrator.record.model_dump_json()})
    with atomic_open(path.with_suffix(".json")) as fh:
        fh.write(calibrator.record.model_dump_json(indent=2))
    calibrator.path = path
    return path


def load_multilabel(path: str | Path) -> MultiLabelCalibrator:
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no multi-label calibrator file here")
    try:
        with safe_open(str(path), framework="pt") as fh:
            header = fh.metadata() or {}
            if header.get("format") != FORMAT:
                raise InputError(path, "not a UniBind multi-label calibrator (no 'unibind-multilabel' metadata)")
            state = {key: fh.get_tensor(key) for key in fh.keys()}
        record = MultiLabelRecord.model_validate_json(header["unibind_multilabel"])
    except SafetensorError as exc:
        raise InputError(path, f"not a safetensors file: {exc}") from exc
    except (KeyError, ValidationError) as exc:
        raise InputError(path, f"multi-label record is unreadable: {exc}") from exc
    from unibind.calibration.domain import CalibrationDomain

    domain = CalibrationDomain.from_saved(record.domain, state)   # leaves the scaler's own tensors in state
    scaler = PerClassTemperature(record.settings, classes=len(record.labels))
    try:
        scaler.load_state_dict(state)
        thresholds = state["thresholds"].float().reshape(-1)
    except KeyError as exc:
        raise InputError(path, f"missing tensor {exc}") from exc
    if not (len(scaler.log_t) == len(scaler.bias) == len(thresholds) == len(record.labels)):
        raise InputError(path, f"tensors do not match its {len(record.labels)} classes")
    return MultiLabelCalibrator(scaler, thresholds, record, path, domain)


def load_multilabels(space_dir: str | Path | None) -> dict[str, MultiLabelCalibrator]:
    """Every multi-label calibrator saved in a space directory, by modality (empty if none)."""
    folder = Path(space_dir) / FOLDER if space_dir is not None else None
    if folder is None or not folder.is_dir():
        return {}
    return {p.stem: load_multilabel(p) for p in sorted(folder.glob("*.safetensors"))}
