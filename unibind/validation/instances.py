"""Instances with several modalities (a stamp's picture and its sound): each modality's prediction is
reviewed with the other modalities' probabilities at hand (cross-modal agreement, modality shares)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from unibind.calibration.scoring import score_files
from unibind.calibration.store import apply_calibration
from unibind.explain import review
from unibind.results import Failure, Prediction
from unibind.space import Embeddings, _predictions


def classify_instances(space: Any, instances: Sequence[Mapping[str, str | Path]], labels: Sequence[str], *,
                       calibrator: Any = None, fallback: Any = None, explain: bool = True, centres: Any = None,
                       top_k: int = 3) -> tuple[list[dict[str, Prediction]], list[Failure]]:
    """One ``{modality: Prediction}`` per instance (``{modality: path}``); files that fail are skipped."""
    modalities = sorted({m for instance in instances for m in instance})
    probs: dict[str, dict[str, torch.Tensor]] = {}
    scored_by: dict[str, Any] = {}
    failures: list[Failure] = []
    for modality in modalities:
        paths = [str(inst[modality]) for inst in instances if modality in inst]
        scored = score_files(space, paths, labels, modality, centres=centres)
        failures += scored.embedded.failures
        calibrated = apply_calibration(calibrator, modality, scored.logits, scored.labels)
        p = calibrated if calibrated is not None else torch.softmax(scored.logits, -1)
        probs[modality] = dict(zip(scored.embedded.sources, p))
        scored_by[modality] = (scored, p, calibrated is not None)
        labels = scored.labels
    results: list[dict[str, Prediction]] = [{} for _ in instances]
    for modality, (scored, p, calibrated) in scored_by.items():
        rows = {source: row for row, source in enumerate(scored.embedded.sources)}
        owners = [i for i, inst in enumerate(instances) if modality in inst and str(inst[modality]) in rows]
        order = [rows[str(instances[i][modality])] for i in owners]
        if not order:
            continue
        subset = Embeddings(scored.embedded.vectors[order], [scored.embedded.sources[r] for r in order], modality)
        found = _predictions(subset, labels, scored.sims[order], p[order], top_k, calibrated)
        others = [{m: probs[m][str(path)] for m, path in instances[i].items()
                   if m != modality and str(path) in probs.get(m, {})} for i in owners]
        reviewed = review(space, found, subset.vectors, labels, p[order], modality,
                          centre_set=space.centre_set(centres, labels, modality), fallback=fallback,
                          explain_them=explain, others=others, top_k=top_k)
        for i, prediction in zip(owners, reviewed):
            results[i][modality] = prediction
    return results, failures

