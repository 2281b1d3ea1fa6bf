"""Fit and measure a shipped default calibrator (``scripts/fit_default_calibrators.py``).

One real labelled set is split (stratified, seeded) into a calibration part and a held-out
part; the temperature and the fallback's cut are fitted on the calibration part only. The
held-out part and whole other real sets (never fitted on) measure it: ECE, MCE, NLL, Brier
before and after, and the coverage and accuracy of accepted predictions at the fallback
threshold, with and without the fallback, exactly as ``unibind classify`` runs it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from unibind.calibration.base import CalibrationFitError
from unibind.calibration.defaults import fallback_for, fit_fallback, space_identity
from unibind.calibration.domain import CalibrationDomain
from unibind.calibration.metrics import calibration_report, selective
from unibind.calibration.report import LabelledFiles, cached_scores, split_halves
from unibind.calibration.store import CalibratorRecord, FittedCalibrator
from unibind.calibration.temperature import TemperatureScaler

METRICS = ("accuracy", "ece", "mce", "nll", "brier")


def _nan_to_none(value: float) -> float | None:
    return None if value is None or math.isnan(value) or math.isinf(value) else float(value)


def _metrics(probs: torch.Tensor, targets: torch.Tensor, scores: torch.Tensor) -> dict[str, float]:
    report = calibration_report(probs, targets, scores=scores).as_dict()
    return {k: float(report[k]) for k in METRICS}


def _loaded(space: Any, data: LabelledFiles, work: Path) -> tuple[torch.Tensor, torch.Tensor, list[str],
                                                                     list[str], torch.Tensor]:
    vectors, sims, sources, failures = cached_scores(space, data, work)
    target_of = {str(p): t for p, t in zip(data.paths, data.targets)}
    return vectors, sims, sources, failures, torch.tensor([target_of[s] for s in sources])


def fallback_effect(space: Any, fallback: Any, data: LabelledFiles, sources: list[str], vectors: torch.Tensor,
                    sims: torch.Tensor, probs: torch.Tensor, targets: torch.Tensor,
                    rows: Sequence[int]) -> dict[str, Any]:
    """Coverage/accuracy of accepted predictions on ``rows`` at the fallback's threshold, without and with it
    (through the same review as ``Space.classify``), its decisions and its cost per reviewed file."""
    from unibind.explain import review
    from unibind.space import Embeddings, _predictions

    rows = list(rows)
    subset = Embeddings(vectors[rows], [sources[i] for i in rows], data.modality)
    found = _predictions(subset, data.classes, sims[rows], probs[rows], 3, True)
    started = time.perf_counter()
    reviewed = review(space, found, vectors[rows], data.classes, probs[rows], data.modality, fallback=fallback)
    seconds = time.perf_counter() - started
    truth = [data.classes[int(targets[i])] for i in rows]
    threshold = fallback.settings.threshold
    original_right = np.array([p.fallback.original_label == t for p, t in zip(reviewed, truth)])
    final_right = np.array([p.label == t for p, t in zip(reviewed, truth)])
    confident = np.array([p.fallback.original_confidence >= threshold for p in reviewed])
    accepted = np.array([p.fallback.decision != "rejected" for p in reviewed])
    cov0, acc0 = selective(confident, original_right)
    cov1, acc1 = selective(accepted, final_right)
    decisions: dict[str, int] = {}
    for p in reviewed:
        decisions[p.fallback.decision] = decisions.get(p.fallback.decision, 0) + 1
    ran = sum(p.fallback.ran for p in reviewed)
    return {"threshold": threshold, "count": len(rows), "accuracy_all": float(original_right.mean()),
            "without": {"coverage": cov0, "accuracy": _nan_to_none(acc0)},
            "with": {"coverage": cov1, "accuracy": _nan_to_none(acc1)}, "decisions": decisions,
            "reviewed": ran, "seconds_per_reviewed": seconds / ran if ran else 0.0}


def domain_effect(domain: Any, vectors: torch.Tensor, probs: torch.Tensor, targets: torch.Tensor,
                  scores: torch.Tensor) -> dict[str, Any]:
    """How many of a set's files the calibrator's domain holds, and its calibration inside and outside it
    (predictions ranked as classify ranks them: equal probabilities by score)."""
    if domain is None:
        return {}
    inside = domain.contains(vectors)
    out = domain.coverage(vectors, inside)      # what classify says of these files, one by one and together
    for name, rows in (("inside", inside), ("outside", ~inside)):
        if int(rows.sum()) >= 2:
            report = calibration_report(probs[rows], targets[rows], scores=scores[rows])
            out[f"ece_{name}"] = float(report.ece)
            out[f"accuracy_{name}"] = float(report.accuracy)
    return out


def _oracle(logits: torch.Tensor, targets: torch.Tensor) -> dict[str, Any]:
    """The set's own best temperature (how far the shipped one is from it), or why it has none."""
    try:
        return {"oracle_temperature": TemperatureScaler().fit(logits, targets).temperature}
    except CalibrationFitError as exc:
        return {"oracle_temperature": None, "oracle_refused": str(exc)}


def fit_default_calibrator(space: Any, data: LabelledFiles, others: Sequence[LabelledFiles], work: str | Path, *,
                           seed: int = 0, held_out: float = 0.5, threshold: float = 0.6,
                           command: str = "") -> FittedCalibrator:
    """A temperature (and fallback cut) fitted on the calibration part of ``data``, measured on its held-out
    part and on each of ``others``; everything said in the record's ``provenance``."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    vectors, sims, sources, failures, targets = _loaded(space, data, work)
    fit_rows, held_rows = split_halves(targets.tolist(), seed, held_out)
    logits = space.logit_scale * sims
    scaler = TemperatureScaler().fit(logits[fit_rows], targets[fit_rows])
    identity = space_identity(space, data.modality)
    record = CalibratorRecord(name="temperature", modality=data.modality, labels=None, class_specific=False,
                              fitted_on=len(fit_rows), logit_scale=space.logit_scale)
    fitted = FittedCalibrator(scaler, record, CalibrationDomain.fit(vectors[fit_rows]))
    probs = scaler(logits)

    # the fallback's cut, fitted on the calibration part too (its validators' supports are not probabilities)
    rows = fit_rows.tolist()
    fitted_fallback = fit_fallback(space, fitted, threshold, modality=data.modality, labels=data.classes,
                                   sources=[sources[i] for i in rows], probs=probs[rows], vectors=vectors[rows],
                                   truth=targets[rows].tolist(), scores=sims[rows])
    record.provenance = {
        "dataset": data.note or data.name, "dataset_key": data.name, "labels": data.classes,
        "label_set_size": len(data.classes), "files": len(data.paths), "skipped": len(failures),
        "seed": seed, "held_out_fraction": held_out, "calibration_count": len(fit_rows),
        "held_out_count": len(held_rows), "temperature": scaler.temperature, "space": identity,
        "centres": "prompt templates",
        "fallback": fitted_fallback,
        "command": command,
    }
    measured_fallback = fallback_for(space, fitted, threshold)   # exactly what classify builds from the record
    held = torch.from_numpy(held_rows)
    record.provenance["held_out"] = {
        "count": len(held_rows), "before": _metrics(torch.softmax(logits[held], -1), targets[held], logits[held]),
        "after": _metrics(probs[held], targets[held], logits[held]),
        "fallback": fallback_effect(space, measured_fallback, data, sources, vectors, sims, probs, targets,
                                    held_rows.tolist()),
        "domain": domain_effect(fitted.domain, vectors[held], probs[held], targets[held], logits[held])}
    record.metrics = {"before": record.provenance["held_out"]["before"],
                      "after": record.provenance["held_out"]["after"]}
    record.provenance["other_sets"] = []
    for other in others:
        o_vectors, o_sims, o_sources, o_failures, o_targets = _loaded(space, other, work)
        o_logits = space.logit_scale * o_sims
        o_probs = scaler(o_logits)
        everything = list(range(len(o_sources)))
        record.provenance["other_sets"].append({
            "dataset": other.note or other.name, "dataset_key": other.name, "label_set_size": len(other.classes),
            "count": len(o_sources), "skipped": len(o_failures),
            "before": _metrics(torch.softmax(o_logits, -1), o_targets, o_logits),
            "after": _metrics(o_probs, o_targets, o_logits),
            **_oracle(o_logits, o_targets), "domain": domain_effect(fitted.domain, o_vectors, o_probs, o_targets, o_logits),
            "fallback": fallback_effect(space, measured_fallback, other, o_sources, o_vectors, o_sims, o_probs,
                                        o_targets, everything)})
    return fitted


def format_provenance(record: CalibratorRecord) -> str:
    """The figures of one shipped calibrator as a few plain lines."""
    p = record.provenance
    lines = [f"{record.modality}: temperature {p['temperature']:.3f} fitted on {p['calibration_count']} files of "
             f"{p['dataset']} ({p['label_set_size']} classes, seed {p['seed']}); fallback cut "
             f"{p['fallback']['cut']} revise {p['fallback']['revise']}; templates {p['space'].get('templates')}"]
    grid = p["fallback"].get("grid", [])
    if grid:
        lines.append("  fallback cuts fitted at each threshold: " + ", ".join(
            f"{e['threshold']:g}: {'never' if e['cut'] is None else format(e['cut'], '.3f')}"
            f"{' +revise' if e['revise'] else ''} ({e['fitted']['agreed_right']}/{e['fitted']['agreed']} agreed right)"
            for e in grid))
    rows = [(f"{p['dataset']} held-out", p["held_out"]["count"], p["held_out"])]
    rows += [(f"{o['dataset']} (not fitted on; its own best T " + (f"{o['oracle_temperature']:.2f})"
              if o.get("oracle_temperature") is not None else f"none: {o.get('oracle_refused')})"), o["count"], o)
             for o in p["other_sets"]]
    for name, count, m in rows:
        d = m.get("domain") or {}
        if d:
            parts = [f"{d['inside']}/{d['count']} inside the calibrator's domain"]
            parts += [f"ECE {where} {d[f'ece_{where}']:.3f} (acc {d[f'accuracy_{where}']:.3f})"
                      for where in ("inside", "outside") if f"ece_{where}" in d]
            if "set_test" in d:
                t = d["set_test"]
                parts.append(f"as a set {'UNLIKE' if t['unlike'] else 'alike'} (AUROC {t['auroc']:.3f}, "
                             f"p {t['p_value']:.1g}, {t['files']} files)")
            lines.append(f"  {name}: " + "; ".join(parts))
        b, a, f = m["before"], m["after"], m["fallback"]
        acc = lambda v: "-" if v is None else f"{v:.3f}"   # noqa: E731
        lines.append(f"  {name}: n={count} acc {b['accuracy']:.3f}; ECE {b['ece']:.3f} -> {a['ece']:.3f}, "
                     f"MCE {b['mce']:.3f} -> {a['mce']:.3f}, NLL {b['nll']:.3f} -> {a['nll']:.3f}, "
                     f"Brier {b['brier']:.3f} -> {a['brier']:.3f}; at {f['threshold']}: coverage/accuracy "
                     f"{f['without']['coverage']:.3f}/{acc(f['without']['accuracy'])} without fallback, "
                     f"{f['with']['coverage']:.3f}/{acc(f['with']['accuracy'])} with; decisions {f['decisions']}; "
                     f"{f['seconds_per_reviewed']:.3f} s per reviewed file")
    return "\n".join(lines)
