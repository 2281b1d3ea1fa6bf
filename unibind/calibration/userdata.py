"""A user's labelled files for ``unibind calibrate fit/report``: a folder per class, or a manifest.

The same formats ``unibind train`` reads (``unibind.training.data``): ``DATA/<class>/<file>``, or a
JSONL manifest of ``{"path": ..., "label": ...}`` lines; a ``.json`` file holding a list of such
objects works too. Lines without a label, files of another modality and unreadable lines are
skipped and reported; only the named modality's files are kept.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from unibind.calibration.report import LabelledFiles
from unibind.errors import InputError, NotRegisteredError
from unibind.results import Failure


def _json_list(path: Path, registry: Any, modality: str) -> tuple[list[Any], list[Failure]]:
    from unibind.training.data import manifest_item

    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"not a JSON manifest: {exc}") from exc
    if not isinstance(entries, list):
        raise InputError(path, "a .json manifest holds a list of {\"path\": ..., \"label\": ...} objects")
    items, failures = [], []
    for number, entry in enumerate(entries, start=1):
        where = f"{path}[{number}]"
        item = manifest_item(entry, path.parent, where, "entry")
        if isinstance(item, Failure):
            failures.append(item)
            continue
        try:
            found = item.modality or registry.modality_for_path(item.path).name
        except NotRegisteredError as exc:
            failures.append(Failure(source=where, reason=str(exc)))
            continue
        if found == modality:
            items.append(item)
    return items, failures


def read_labelled(data: str | Path, registry: Any, modality: str,
                  labels: Sequence[str] | None = None) -> tuple[LabelledFiles, list[Failure]]:
    """(the labelled ``modality`` files of ``data``, what was skipped); classes are ``labels`` or the sorted
    labels found. Raises ``InputError`` naming ``data`` when nothing usable is left or a label is unknown."""
    from unibind.training.data import read_dataset

    data = Path(data)
    if data.is_file() and data.suffix.lower() == ".json":
        items, failures = _json_list(data, registry, modality)
    else:
        items, failures = read_dataset(data, registry, [modality])
    kept = []
    for item in items:
        if item.label:
            kept.append(item)
        else:
            failures.append(Failure(source=str(item.path), reason="no label (a description alone cannot "
                                                                   "calibrate)"))
    found = sorted({item.label for item in kept})
    classes = list(labels) if labels else found
    unknown = [label for label in found if label not in classes]
    if unknown:
        raise InputError(data, f"labels {unknown} are not among --labels")
    if len(found) < 2:
        which = f"only one class ({found[0]})" if found else "no class"
        raise InputError(data, f"{len(kept)} labelled {modality} file(s) of {which}; "
                               "calibrating needs labelled files of at least two classes")
    return LabelledFiles(data.name, modality, [item.path for item in kept],
                         [classes.index(item.label) for item in kept], classes,
                         note=f"{data} ({len(kept)} {modality} files, {len(found)} classes)"), failures
