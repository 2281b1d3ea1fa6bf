"""Is a space's saved calibrator still for this space? A fingerprint of what makes its logits.

A calibrator is fitted on the logits of one adapter against one centre set (and one stacking
offset). ``unibind train`` into the same folder replaces those but leaves ``calibrators/`` in
place, and a calibrator fitted for the old adapter would then be applied, silently, to the new
one. Saving a calibrator records :func:`scores_fingerprint` in its provenance; loading
compares it with the space as it is now (:func:`stale_calibrators`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

KEY = "fitted_for"


def scores_fingerprint(space_dir: str | Path | None, modality: str) -> str | None:
    """SHA-256 over the files and numbers a trained space's ``modality`` logits come from: its adapter file,
    its centre file and its stacking offset. None for a folder without ``space.json`` (the embedded default's
    calibrators, checked by :mod:`unibind.calibration.defaults`) or a modality it has no adapter for."""
    from unibind.identity import file_digest
    from unibind.spacedir import RECORD, centre_files, read_record

    if space_dir is None or not (Path(space_dir) / RECORD).is_file():
        return None
    record = read_record(space_dir)
    part = record.modalities.get(modality)
    if part is None:
        return None
    centres = centre_files(record)
    centre_file = centres.get(modality) or centres.get(None)
    parts = {"adapter": file_digest(Path(space_dir) / part.adapter_file) if part.adapter_file else part.adapter,
             "centres": file_digest(Path(space_dir) / centre_file) if centre_file else None,
             "stacking": record.stacking[modality].model_dump(mode="json") if modality in record.stacking else None}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def stale_calibrators(space_dir: str | Path | None, calibrators: Mapping[str, Any]) -> dict[str, str]:
    """modality -> why its saved calibrator does not apply: a temperature outside the bounds a fit accepts, or
    fitted before the space was trained again.

    A calibrator saved before fingerprints were recorded is judged by ``space.json``: training writes it
    anew without the calibrators, so one it does not list was fitted for an earlier training."""
    from unibind.spacedir import RECORD, read_record

    stale = {m: why for m, fitted in calibrators.items() if (why := _out_of_range(fitted)) is not None}
    if space_dir is None or not (Path(space_dir) / RECORD).is_file():
        return stale
    listed = read_record(space_dir).calibrators
    for modality, fitted in calibrators.items():
        if modality in stale:
            continue
        recorded = fitted.record.provenance.get(KEY)
        if recorded is None and modality not in listed:
            stale[modality] = "space.json does not list it (the space was trained again after it was fitted)"
        elif recorded is not None and recorded != scores_fingerprint(space_dir, modality):
            stale[modality] = ("it was fitted before the space's adapter or centres changed (trained again into "
                               "this folder?); fit it again with `unibind calibrate fit`")
    return stale


def _out_of_range(fitted: Any) -> str | None:
    """Why a saved temperature is refused: outside the bounds its own settings accept (a file saved before
    degenerate fits were refused holds e.g. T = 8e7: every probability 1/C)."""
    calibrator = getattr(fitted, "calibrator", None)
    temperature, settings = getattr(calibrator, "temperature", None), getattr(calibrator, "settings", None)
    low, high = getattr(settings, "min_temperature", None), getattr(settings, "max_temperature", None)
    if not isinstance(temperature, (int, float)) or low is None or high is None or low <= temperature <= high:
        return None
    return (f"its temperature {temperature:.3g} is outside [{low:g}, {high:g}] (saved before such fits were "
            "refused: nearly uniform probabilities); fit it again with `unibind calibrate fit`")
