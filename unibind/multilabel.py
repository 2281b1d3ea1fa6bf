"""Multi-label classification: every class an input holds, each by its own calibrated sigmoid and threshold.

``Space.classify(..., multi_label=True)`` scores files against the classes'
(overlapping) centres through the same path as single-label classification,
then turns each class's cosine into an independent probability with the
space's fitted :class:`~unibind.calibration.multilabel_store.MultiLabelCalibrator`
and keeps the classes at or above their fitted thresholds (possibly none).
There is no uncalibrated default: a sigmoid of 100 x cosine is near 1 for
every class, and cosines sit on different scales per class, so without
thresholds fitted on labelled held-out files the answer would be silently
wrong. A missing calibrator is an error that says how to fit one.

Held-out multi-label data (:func:`read_multilabel_data`) is a JSONL manifest
(``{"path": ..., "labels": [...]}`` per line) or class folders in which a
file holding several classes appears in each of their folders (the same
bytes: a copy or a link).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from unibind.calibration.multilabel_store import MultiLabelCalibrator, load_multilabels
from unibind.errors import InputError
from unibind.calibration.domain import mark_calibration_domain, mark_calibration_set
from unibind.results import CentreMatch, Explanation, Failure, LabelDecision, MultiLabelPrediction


def fit_command(where: Any, modality: str) -> str:
    return f"unibind calibrate fit-multi-label DATA --space {where} --modality {modality}"


def calibrators_for(space: Any, calibrator: Any, modalities: Sequence[str]) -> dict[str, MultiLabelCalibrator]:
    """Each modality's multi-label calibrator (given, or the space directory's); a missing one is an error."""
    if isinstance(calibrator, MultiLabelCalibrator):
        found = {m: calibrator for m in modalities if calibrator.record.modality == m}
    elif isinstance(calibrator, Mapping) and calibrator:
        found = {m: c for m, c in calibrator.items() if isinstance(c, MultiLabelCalibrator)}
    else:
        found = load_multilabels(getattr(space, "space_dir", None))
    where = getattr(space, "space_dir", None) or "SPACE"
    for m in modalities:
        if m not in found:
            raise InputError("--multi-label", f"no multi-label calibrator for {m} in {where}: per-class thresholds "
                             "must be fitted on labelled held-out files (an uncalibrated sigmoid of scaled cosines "
                             f"is near 1 for every class); fit one with `{fit_command(where, m)}`")
    return found


def classify_multi_label(space: Any, plan: Any, *, calibrator: Any = None, reduce: str | None = None,
                         fallback: Any = None, explain: bool = False,
                         top_k: int = 5) -> tuple[list[MultiLabelPrediction], list[Failure]]:
    """Multi-label predictions for a :meth:`~unibind.space.Space.classification_plan` (see module doc)."""
    calibrators = calibrators_for(space, calibrator, list(plan.groups))
    for mod in plan.groups:   # unknown classes are refused before anything is embedded
        calibrators[mod].columns(plan.labels[mod])
    out: list[MultiLabelPrediction] = []
    checked: dict[str, list[torch.Tensor]] = {}       # per modality: the vectors tested as a set
    for chunk in space.scored_chunks(plan, reduce=reduce or calibrators_reduce(calibrators, plan)):
        mod, labels = chunk.part.modality, chunk.labels
        probs, thresholds = calibrators[mod].probabilities(chunk.sims, labels)
        texts = None
        checker = fallback.get(mod) if isinstance(fallback, Mapping) else fallback
        if explain or checker is not None:
            from unibind.validation.base import class_texts

            texts = class_texts(space, labels, mod, chunk.centre_set)
        noted: dict[str, list[str]] = {}
        for w in chunk.part.warnings:
            noted.setdefault(w.source, []).append(w.reason)
        found = [_decide(space, source, mod, labels, probs[row], thresholds, chunk.sims[row], chunk.part.vectors[row],
                         texts, checker, explain, top_k, noted.get(source, []))
                 for row, source in enumerate(chunk.part.sources)]
        if mark_calibration_domain(found, calibrators, mod, chunk.part.vectors, True):
            checked.setdefault(mod, []).append(chunk.part.vectors)
        out.extend(found)
    mark_calibration_set(checked, calibrators, out)
    return out, plan.failures


def calibrators_reduce(calibrators: Mapping[str, MultiLabelCalibrator], plan: Any) -> str | None:
    """The scoring over centre sets the calibrators were fitted with (they must agree), else the default."""
    found = {c.record.reduce for m, c in calibrators.items() if m in plan.groups} - {None}
    return found.pop() if len(found) == 1 else None


def _decide(space: Any, source: str, modality: str, labels: list[str], probs: torch.Tensor, thresholds: torch.Tensor,
            sims: torch.Tensor, vector: torch.Tensor, texts: Any, fallback: Any, explain: bool, top_k: int,
            warnings: list[str]) -> MultiLabelPrediction:
    order = torch.argsort(probs, descending=True, stable=True).tolist()
    decisions = [LabelDecision(label=labels[i], probability=float(probs[i]), threshold=float(thresholds[i]),
                               similarity=float(sims[i])) for i in order]
    above = [d for i, d in zip(order, decisions) if probs[i] >= thresholds[i]]
    kept, rejected = above, []
    if fallback is not None and texts is not None:
        kept, rejected = _review(space, source, modality, labels, probs, vector, above, texts, fallback)
    explanation = None
    if explain and texts is not None:
        shown = above or decisions[:top_k]
        matches = []
        for d in shown:
            text, sim = texts.best_text(vector, labels.index(d.label))
            matches.append(CentreMatch(label=d.label, probability=d.probability, description=text,
                                       description_similarity=sim))
        p = probs.clamp(1e-7, 1 - 1e-7)
        binary_entropy = float((-(p * p.log() + (1 - p) * (1 - p).log())).mean())
        explanation = Explanation(top=matches, entropy=binary_entropy)
    return MultiLabelPrediction(source=source, modality=modality, labels=kept, top=decisions[:top_k],
                                rejected=rejected, explanation=explanation, warnings=warnings)


def _review(space: Any, source: str, modality: str, labels: list[str], probs: torch.Tensor, vector: torch.Tensor,
            above: list[LabelDecision], texts: Any, fallback: Any) -> tuple[list[LabelDecision], list[LabelDecision]]:
    """Each class above its threshold but below the fallback's confidence is re-checked by the validators as if
    it were the prediction; it stays when they verify it (or it was confident enough), else it is rejected."""
    from unibind.validation.base import Case

    kept, rejected = [], []
    for d in above:
        c = labels.index(d.label)
        as_predicted = torch.minimum(probs, probs[c])  # this class leads; its own probability unchanged
        as_predicted[c] = probs[c] + 1e-9
        record, label, _ = fallback.review(Case(source, modality, list(labels), as_predicted, vector), texts, space)
        record.original_confidence = d.probability
        decided = d.model_copy(update={"fallback": record})
        (kept if record.decision in ("accepted", "verified") else rejected).append(decided)
    return kept, rejected


# -- held-out multi-label data -----------------------------------------------------------------------
@dataclass
class MultiLabelData:
    """Files, their 0/1 class targets [N, C] and the class order; bad entries skipped and reported."""

    paths: list[Path]
    targets: torch.Tensor
    labels: list[str]
    failures: list[Failure] = field(default_factory=list)


def read_multilabel_data(data: str | Path, suffixes: Sequence[str],
                         labels: Sequence[str] | None = None) -> MultiLabelData:
    """A JSONL manifest or class folders (see the module doc); ``labels`` fixes the class order."""
    data = Path(data)
    if data.is_file():
        entries, failures = _from_manifest(data)
    elif data.is_dir():
        entries, failures = _from_folders(data, suffixes)
    else:
        raise InputError(data, "no such file or folder")
    names = list(labels) if labels else sorted({c for _, held in entries for c in held})
    unknown = sorted({c for _, held in entries for c in held} - set(names))
    if unknown:
        raise InputError(data, f"classes {', '.join(unknown)} are not among --labels")
    if len(entries) < 2 or len(names) < 2:
        raise InputError(data, f"needs at least two files and two classes, found {len(entries)} file(s) and "
                         f"{len(names)} class(es)")
    targets = torch.zeros(len(entries), len(names))
    for row, (_, held) in enumerate(entries):
        for c in held:
            targets[row, names.index(c)] = 1
    return MultiLabelData([p for p, _ in entries], targets, names, failures)


def _from_manifest(path: Path) -> tuple[list[tuple[Path, set[str]]], list[Failure]]:
    entries, failures = [], []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            item = json.loads(line)
            held = item["labels"]
            if not isinstance(held, list) or not all(isinstance(c, str) and c.strip() for c in held):
                raise ValueError("'labels' must be a list of class names")
            file = (path.parent / item["path"]).resolve()
        except (ValueError, KeyError, TypeError) as exc:
            failures.append(Failure(source=where, reason=f"not a {{'path', 'labels'}} line: {exc}"))
            continue
        if not file.is_file():
            failures.append(Failure(source=where, reason=f"no such file {file}"))
            continue
        entries.append((file, {c.strip() for c in held}))
    return entries, failures


def _from_folders(root: Path, suffixes: Sequence[str]) -> tuple[list[tuple[Path, set[str]]], list[Failure]]:
    """DATA/<class>/<file>: the same bytes in several class folders are one file holding those classes."""
    by_content: dict[str, tuple[Path, set[str]]] = {}
    for folder in sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.name.lower().endswith(tuple(suffixes)):
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                by_content.setdefault(digest, (path, set()))[1].add(folder.name)
    return list(by_content.values()), []
