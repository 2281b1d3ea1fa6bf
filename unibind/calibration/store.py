"""Fitted calibrators on disk: ``SPACE/calibrators/<modality>.safetensors`` (+ a readable ``.json``).

The safetensors header carries the authoritative record (calibrator name and
settings, the labels a class-specific calibrator was fitted on, metrics before
and after); the sibling JSON is the same record for people and tools. Both are
written atomically; loading rebuilds the calibrator through the registry, so a
plugin's calibrator is stored and restored like a built-in one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, Field, ValidationError

from unibind.calibration.metrics import ranked_classes  # noqa: F401 (its old home; classify imported it here)
from unibind.errors import InputError
from unibind.knowledge.records import now

FORMAT = "unibind-calibrator"
FOLDER = "calibrators"


class CalibratorRecord(BaseModel):
    """What a saved calibrator says about itself."""

    format: Literal["unibind-calibrator"] = FORMAT
    version: int = 1
    name: str = Field(description="Registered calibrator name (rebuilt through the registry).")
    settings: dict[str, Any] = Field(default_factory=dict)
    modality: str
    labels: list[str] | None = Field(default=None, description="Class order it was fitted on "
                                     "(class-specific calibrators refuse any other).")
    class_specific: bool = False
    fitted_on: int = Field(default=0, description="Held-out samples it was fitted on.")
    logit_scale: float | None = Field(default=None, description="Scale of cos -> logits it was fitted with.")
    metrics: dict[str, Any] = Field(default_factory=dict, description="e.g. {'before': {...}, 'after': {...}}.")
    provenance: dict[str, Any] = Field(default_factory=dict, description="Where a shipped default calibrator "
                                       "comes from: dataset, split seed, counts, space, held-out metrics.")
    created_at: str = Field(default_factory=now)


@dataclass
class FittedCalibrator:
    """A calibrator with its record: applies itself only to the labels it knows."""

    calibrator: Any
    record: CalibratorRecord
    #: the files it was fitted on (:class:`~unibind.calibration.domain.CalibrationDomain`); None: not recorded
    domain: Any = None

    def __call__(self, logits: torch.Tensor, labels: Sequence[str] | None = None) -> torch.Tensor:
        if self.record.class_specific and labels is not None and list(labels) != self.record.labels:
            raise InputError(f"calibrator {self.record.name!r} ({self.record.modality})",
                             f"fitted on labels {self.record.labels}, cannot calibrate {list(labels)}; "
                             "use the same labels in the same order, or a temperature calibrator")
        return self.calibrator(logits)


def calibrator_path(space_dir: str | Path, modality: str) -> Path:
    return Path(space_dir) / FOLDER / f"{modality}.safetensors"


def save_calibrator(space_dir: str | Path, fitted: FittedCalibrator) -> Path:
    """Write ``calibrators/<modality>.safetensors`` and its ``.json``; returns the safetensors path.

    In a trained space the record keeps a fingerprint of the adapter and centres it was fitted for, so a
    later training into the same folder makes it stale instead of silently wrong (:mod:`.fitted_for`)."""
    from unibind.calibration.fitted_for import KEY, scores_fingerprint

    fingerprint = scores_fingerprint(space_dir, fitted.record.modality)
    if fingerprint is not None:
        fitted.record.provenance[KEY] = fingerprint
    return write_calibrator(calibrator_path(space_dir, fitted.record.modality), fitted)


def write_calibrator(path: str | Path, fitted: FittedCalibrator) -> Path:
    """Write ``path`` (safetensors, the record in its header) and the same record beside it as ``.json``."""
    from unibind.atomic import atomic_open, save_tensors

    path = Path(path)
    tensors = dict(fitted.calibrator.state_dict())
    if fitted.domain is not None:
        fitted.record.provenance["domain"] = fitted.domain.settings()
        tensors.update(fitted.domain.tensors())
    record_json = fitted.record.model_dump_json()
    save_tensors(tensors, path, metadata={"format": FORMAT, "unibind_calibrator": record_json})
    with atomic_open(path.with_suffix(".json")) as fh:
        fh.write(fitted.record.model_dump_json(indent=2))
    return path


def load_calibrator(path: str | Path, registry=None) -> FittedCalibrator:
    """Read one saved calibrator file and rebuild it through the registry."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no calibrator file here")
    try:
        with safe_open(str(path), framework="pt") as fh:
            header = fh.metadata() or {}
            if header.get("format") != FORMAT:
                raise InputError(path, "not a UniBind calibrator (no 'unibind-calibrator' metadata)")
            state = {key: fh.get_tensor(key) for key in fh.keys()}
    except SafetensorError as exc:
        raise InputError(path, f"not a safetensors file: {exc}") from exc
    try:
        record = CalibratorRecord.model_validate_json(header["unibind_calibrator"])
    except (KeyError, ValidationError) as exc:
        raise InputError(path, f"calibrator record is unreadable: {exc}") from exc
    if registry is None:
        from unibind.plugins import get_registry

        registry = get_registry()
    from unibind.calibration.domain import CalibrationDomain

    calibrator = registry.get("calibrator", record.name).build(record.settings)
    try:
        domain = CalibrationDomain.from_saved(record.provenance.get("domain"), state)
        calibrator.load_state_dict(state)
    except (KeyError, RuntimeError, ValueError) as exc:
        raise InputError(path, f"tensors do not fit calibrator {record.name!r}: {exc}") from exc
    return FittedCalibrator(calibrator, record, domain)


def load_calibrators(space_dir: str | Path, registry=None) -> dict[str, FittedCalibrator]:
    """Every calibrator saved in a space directory, by modality (empty if there are none)."""
    folder = Path(space_dir) / FOLDER
    if not folder.is_dir():
        return {}
    return {p.stem: load_calibrator(p, registry) for p in sorted(folder.glob("*.safetensors"))}


def applicable_calibrators(space_dir: str | Path, registry=None) -> tuple[dict[str, FittedCalibrator], dict[str, str]]:
    """(modality -> calibrator, modality -> why it does not apply) of the calibrators saved in ``space_dir``:
    what every caller that applies a space's calibrators loads, so none applies a stale one
    (:func:`~unibind.calibration.fitted_for.stale_calibrators`)."""
    from unibind.calibration.fitted_for import stale_calibrators

    calibrators = load_calibrators(space_dir, registry)
    stale = stale_calibrators(space_dir, calibrators)
    return {m: c for m, c in calibrators.items() if m not in stale}, stale


def calibrator_entries(space_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Small summaries for ``space.json``: modality -> {file, name, settings, metrics} (no torch needed)."""
    folder = Path(space_dir) / FOLDER
    out: dict[str, dict[str, Any]] = {}
    for sidecar in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        record = CalibratorRecord.model_validate(json.loads(sidecar.read_text(encoding="utf-8")))
        out[record.modality] = {"file": f"{FOLDER}/{sidecar.stem}.safetensors", "name": record.name,
                                "settings": record.settings, "metrics": record.metrics}
    return out


def apply_calibration(calibrator: Any, modality: str, logits: torch.Tensor,
                      labels: Sequence[str]) -> torch.Tensor | None:
    """Calibrated probabilities of ``logits``, or None when there is no calibrator for ``modality``.

    ``calibrator`` may be one calibrator for every modality, a mapping modality -> calibrator
    (what a space directory holds), a :class:`FittedCalibrator` (checks the labels) or None.
    """
    if isinstance(calibrator, Mapping):
        calibrator = calibrator.get(modality)
    if calibrator is None:
        return None
    if isinstance(calibrator, FittedCalibrator):
        return calibrator(logits, labels)
    return calibrator(logits)
