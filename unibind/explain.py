"""Why a prediction is what it is: the top classes with calibrated probabilities, the centre
description each matched best, the entropy, and for multi-modal instances each modality's share.

:func:`review` is the one step ``Space.classify`` calls after calibration: it adds the
explanation and, below the fallback threshold, the validators' record and final decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from unibind.calibration.metrics import entropy
from unibind.results import CentreMatch, Explanation, ModalityContribution, Prediction
from unibind.validation.base import Case, ClassTexts, Fallback, class_texts


def modality_contributions(per_modality: Mapping[str, torch.Tensor], labels: Sequence[str],
                           final: int) -> list[ModalityContribution]:
    """Each modality's own top label, its probability of the final label, and its share of the total."""
    total = sum(float(p[final]) for p in per_modality.values()) or 1.0
    return [ModalityContribution(modality=m, label=labels[int(p.argmax())], probability=float(p[final]),
                                 share=float(p[final]) / total) for m, p in per_modality.items()]


def explain(case: Case, texts: ClassTexts, top_k: int = 3) -> Explanation:
    """The explanation of one case (its probabilities are the calibrated ones)."""
    k = min(top_k, len(case.labels))
    if case.scores is not None:   # the order classify printed: equal probabilities by score
        from unibind.calibration.store import ranked_classes

        order = ranked_classes(case.probs[None], case.scores[None])[0, :k]
    else:
        order = case.probs.topk(k).indices
    top = []
    for p, i in zip(case.probs[order].tolist(), order.tolist()):
        text, sim = texts.best_text(case.embedding, i)
        top.append(CentreMatch(label=case.labels[i], probability=p, description=text, description_similarity=sim))
    modalities = []
    if case.others:
        modalities = modality_contributions({case.modality: case.probs, **case.others}, case.labels, case.predicted)
    return Explanation(top=top, entropy=float(entropy(case.probs)), modalities=modalities)


def review(space: Any, predictions: Sequence[Prediction], vectors: torch.Tensor, labels: Sequence[str],
           probs: torch.Tensor, modality: str, *, centre_set: Any = None, fallback: Fallback | None = None,
           explain_them: bool = False, others: Sequence[Mapping[str, torch.Tensor]] | None = None,
           top_k: int = 3, scores: torch.Tensor | None = None) -> list[Prediction]:
    """Predictions with explanations and fallback decisions added (rows of ``vectors``/``probs`` match them;
    ``scores``, the ``[N, C]`` scores classify ranked by, order the explanation's equal probabilities)."""
    if fallback is None and not explain_them:
        return list(predictions)
    # a fallback that adds nothing runs no validator: no class texts to embed for it
    needs_texts = explain_them or not getattr(fallback, "adds_nothing", False)
    texts = class_texts(space, labels, modality, centre_set) if needs_texts else None
    out = []
    for row, prediction in enumerate(predictions):
        case = Case(prediction.source, modality, list(labels), probs[row], vectors[row],
                    dict(others[row]) if others else {}, chosen=list(labels).index(prediction.label),
                    scores=scores[row] if scores is not None else None)
        update: dict[str, Any] = {}
        if explain_them:
            update["explanation"] = explain(case, texts, top_k)
        if fallback is not None:
            record, label, confidence = fallback.review(case, texts, space)
            update.update(fallback=record, label=label, confidence=confidence)
        out.append(prediction.model_copy(update=update))
    return out
