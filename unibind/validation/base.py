"""What a validator sees (:class:`Case`, :class:`ClassTexts`) and the policy that runs them (:class:`Fallback`).

A validator is any object with a ``name`` and ``validate(case, texts, space) -> ValidatorRecord``;
``support`` is its probability that the predicted label is right and ``label`` the label it
prefers. It abstains when it has nothing to go on (no captioner installed, a single modality).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from pydantic import BaseModel, Field

from unibind.results import FallbackRecord, ValidatorRecord


@dataclass
class Case:
    """One prediction to re-check."""

    source: str
    modality: str
    labels: list[str]
    probs: torch.Tensor                       # [C] calibrated
    embedding: torch.Tensor                   # [d] unit norm, in the space
    others: dict[str, torch.Tensor] = field(default_factory=dict)   # other modalities of the instance: [C] probs
    #: Index of the label classify named (None: the most probable); it breaks equal probabilities by cosine
    #: (unibind.calibration.store.ranked_classes), which ``probs.argmax`` cannot see.
    chosen: int | None = None
    scores: torch.Tensor | None = None        # [C] the scores classify ranked by (equal probabilities by these)

    @property
    def predicted(self) -> int:
        return int(self.probs.argmax()) if self.chosen is None else self.chosen

    @property
    def path(self) -> Path | None:
        path = Path(self.source)
        return path if path.is_file() else None


def ranked_cases(sources: list[str], modality: str, labels: list[str], probs: torch.Tensor,
                 vectors: torch.Tensor, scores: torch.Tensor | None = None,
                 others: list[dict[str, torch.Tensor]] | None = None) -> list[Case]:
    """Cases naming the label classify names: the most probable, equal probabilities broken by ``scores``."""
    from unibind.calibration.metrics import top_class

    probs = torch.as_tensor(probs)
    _, chosen = top_class(probs, scores)
    return [Case(source, modality, list(labels), probs[i], vectors[i], dict(others[i]) if others else {},
                 chosen=int(chosen[i]), scores=None if scores is None else scores[i])
            for i, source in enumerate(sources)]


@dataclass
class ClassTexts:
    """Each class's centre texts and their unit embeddings ``[C, K, d]`` (``mask`` marks real slots)."""

    labels: list[str]
    texts: list[list[str]]
    centres: torch.Tensor
    mask: torch.Tensor

    def scores(self, queries: torch.Tensor) -> torch.Tensor:
        """Max cosine ``[N, C]`` of unit queries over each class's centres."""
        sims = torch.einsum("nd,ckd->nck", queries.float(), self.centres)
        return sims.masked_fill(~self.mask, float("-inf")).amax(-1)

    def best_text(self, query: torch.Tensor, index: int) -> tuple[str, float]:
        """The description of class ``index`` nearest to ``query``, and its cosine."""
        sims = self.centres[index] @ query.float()
        sims = sims.masked_fill(~self.mask[index], float("-inf"))
        slot = int(sims.argmax())
        return self.texts[index][slot], float(sims[slot])


def class_texts(space: Any, labels: Sequence[str], modality: str, centre_set: Any = None) -> ClassTexts:
    """Centre texts from knowledge-base centres when given, else the prompt templates embedded in ``space``."""
    from unibind.knowledge.centres import centre_tensor

    if centre_set is not None:
        chosen = centre_set.select(list(labels))
        texts = [[t.text for t in c.texts] for c in chosen.meta.classes]
        return ClassTexts(list(labels), texts, chosen.centres.float(), chosen.mask)
    source = space.registry.get("description_source", "templates").build()
    texts = [source.class_descriptions(label, modality) for label in labels]
    embedded = space.text_embedder()([t for group in texts for t in group])  # cached, in batches
    groups, start = [], 0
    for group in texts:
        groups.append(embedded[start:start + len(group)])
        start += len(group)
    centres, mask = centre_tensor(groups)
    return ClassTexts(list(labels), texts, centres, mask)


@runtime_checkable
class Validator(Protocol):
    name: str

    def validate(self, case: Case, texts: ClassTexts, space: Any) -> ValidatorRecord: ...


def softmax_support(scores: torch.Tensor, scale: float) -> torch.Tensor:
    return torch.softmax(scale * scores.float(), dim=-1)


def agreement_record(name: str, case: Case, probs: torch.Tensor, detail: str) -> ValidatorRecord:
    """A record from a validator's own probabilities over the labels: agree if its top label is the prediction."""
    best = int(probs.argmax())
    return ValidatorRecord(name=name, verdict="agree" if best == case.predicted else "disagree",
                           support=float(probs[case.predicted]), label=case.labels[best], detail=detail)


class FallbackSettings(BaseModel):
    """When the fallback runs and how it decides."""

    threshold: float = Field(default=0.6, ge=0, le=1, description="Validators run below this calibrated confidence.")
    validators: list[str] | None = Field(default=None, description="Registered validator names (None: all).")
    settings: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Per-validator settings.")
    min_support: float = Field(default=0.5, ge=0, le=1, description="Verified only if the fused confidence (mean "
                               "of the calibrated confidence and the validators' supports) reaches this; "
                               ":meth:`Fallback.fit` replaces it with a cut fitted on held-out data.")


class Fallback:
    """Runs validators on low-confidence predictions and decides: verified, revised or rejected.

    Validators' supports are not calibrated probabilities; :meth:`fit` chooses, on held-out
    data, the fused-confidence cut above which agreed predictions are, with 95 % confidence, at
    least as often right as the threshold promises and as what it accepts unchecked, and whether
    revisions are. A fitted fallback that verifies nothing and keeps no revision
    (:attr:`adds_nothing`) rejects every prediction below the threshold without running a validator.
    """

    #: One-sided confidence of the Clopper-Pearson lower bound a cut (or keeping revisions) must pass.
    CONFIDENCE = 0.95

    def __init__(self, settings: FallbackSettings | None = None, *, registry: Any = None,
                 validators: Sequence[Validator] | None = None):
        self.settings = settings or FallbackSettings()
        if validators is None:
            if registry is None:
                from unibind.plugins import get_registry

                registry = get_registry()
            names = self.settings.validators or [s.name for s in registry.by_kind("validator")]
            validators = [registry.get("validator", n).build(self.settings.settings.get(n), registry=registry)
                          for n in names]
        self.validators = list(validators)
        self.cut = self.settings.min_support
        self.revise = True
        #: True once the cut was fitted on labelled data (:meth:`fit`, or a calibrator's record at this threshold).
        self.fitted = False

    @property
    def adds_nothing(self) -> bool:
        """Fitted to verify nothing and keep no revision: running the validators could not change a decision."""
        return self.fitted and self.cut == float("inf") and not self.revise

    @staticmethod
    def _unchecked(case: Case, threshold: float) -> FallbackRecord:
        """The record of ``case`` before any validator ran: accepted as predicted."""
        return FallbackRecord(threshold=threshold, ran=False, decision="accepted",
                              original_label=case.labels[case.predicted], original_confidence=float(case.probs.max()))

    def _run(self, case: Case, texts: ClassTexts, space: Any, threshold: float | None = None) -> FallbackRecord:
        record = self._unchecked(case, self.settings.threshold if threshold is None else threshold)
        if record.original_confidence >= record.threshold:
            return record
        record.ran = True
        for validator in self.validators:
            try:
                record.validators.append(validator.validate(case, texts, space))
            except Exception as exc:  # a broken validator is reported, the others still decide
                record.validators.append(ValidatorRecord(name=validator.name, verdict="abstain",
                                                         detail=f"failed: {type(exc).__name__}: {exc}"))
        return record

    @staticmethod
    def _proposal(case: Case, record: FallbackRecord) -> tuple[str, str, float]:
        """(what the validators propose, label, fused confidence) before any cut."""
        confidence, label = record.original_confidence, record.original_label
        voters = [v for v in record.validators if v.verdict != "abstain"]
        if not record.ran:
            return "accepted", label, confidence
        if not voters:
            return "rejected", label, confidence
        fused = (confidence + sum(v.support or 0.0 for v in voters)) / (1 + len(voters))
        if all(v.verdict == "agree" for v in voters):
            return "verified", label, fused
        preferred = {v.label for v in voters if v.verdict == "disagree"}
        if len(preferred) == 1 and all(v.verdict == "disagree" for v in voters) and None not in preferred:
            new = preferred.pop()
            return "revised", new, float(case.probs[case.labels.index(new)])
        return "rejected", label, fused

    def review(self, case: Case, texts: ClassTexts, space: Any) -> tuple[FallbackRecord, str, float]:
        """(record, final label, final confidence) for one prediction."""
        if self.adds_nothing:    # every prediction below the threshold is rejected, whatever the validators say
            record = self._unchecked(case, self.settings.threshold)
            if record.original_confidence < record.threshold:
                record.decision = "rejected"
            return record, record.original_label, record.original_confidence
        record = self._run(case, texts, space)
        decision, label, confidence = self._proposal(case, record)
        if (decision == "verified" and confidence < self.cut) or (decision == "revised" and not self.revise):
            decision, label = "rejected", record.original_label
        record.decision = decision  # type: ignore[assignment]
        return record, label, confidence

    def fit(self, cases: Sequence[Case], texts: ClassTexts, space: Any, truth: Sequence[int],
            target: float | None = None) -> dict[str, Any]:
        """Choose the cut and whether to revise on held-out ``cases`` with true label indices ``truth``.

        The cut is the lowest fused confidence at which the agreed predictions at or above it are right
        at least ``target`` of the time with 95 % confidence (one-sided Clopper-Pearson lower bound);
        ``target`` defaults to the threshold or, when higher, the accuracy of the ``cases`` the threshold
        accepts unchecked, so a verified answer is no worse than an accepted one. None reaching it: never verify.
        """
        records = [self._run(case, texts, space) for case in cases]
        stats = self._choose(cases, records, truth, self.settings.threshold, target)
        self.cut, self.revise, self.fitted = stats["cut"], stats["revise"], True
        return stats

    def fit_thresholds(self, cases: Sequence[Case], texts: ClassTexts, space: Any, truth: Sequence[int],
                       thresholds: Sequence[float]) -> dict[float, dict[str, Any]]:
        """:meth:`fit`'s statistics at each of ``thresholds``, leaving this policy as it was. The validators run
        once per case, below the highest threshold: what they say does not depend on it. A cut never falls as
        the threshold rises: each is searched at or above the (finite) cuts fitted at lower thresholds."""
        highest = max(thresholds)
        records = [self._run(case, texts, space, highest) for case in cases]
        out: dict[float, dict[str, Any]] = {}
        floor = float("-inf")
        for t in sorted(thresholds):
            out[t] = self._choose(cases, records, truth, t, None, floor=floor)
            if math.isfinite(out[t]["cut"]):
                floor = out[t]["cut"]
        return out

    @classmethod
    def lower_bound(cls, right: int, count: int) -> float:
        """One-sided :attr:`CONFIDENCE` Clopper-Pearson lower bound of a right-fraction (0 for no items)."""
        if count == 0:
            return 0.0
        from scipy.stats import binomtest

        return float(binomtest(int(right), int(count), alternative="greater")
                     .proportion_ci(confidence_level=cls.CONFIDENCE, method="exact").low)

    @classmethod
    def _choose(cls, cases: Sequence[Case], records: Sequence[FallbackRecord], truth: Sequence[int],
                threshold: float, target: float | None, floor: float = float("-inf")) -> dict[str, Any]:
        agreed: list[tuple[float, bool]] = []
        revised: list[bool] = []
        unchecked: list[bool] = []       # what the threshold accepts on its own
        for case, record, true in zip(cases, records, truth):
            if record.original_confidence >= threshold:    # accepted without a check at this threshold
                unchecked.append(record.original_label == case.labels[true])
                continue
            decision, label, fused = cls._proposal(case, record)
            if decision == "verified":
                agreed.append((fused, label == case.labels[true]))
            elif decision == "revised":
                revised.append(label == case.labels[true])
        unchecked_accuracy = sum(unchecked) / len(unchecked) if unchecked else None
        if target is None:
            target = max(threshold, unchecked_accuracy or 0.0)
        cut, bound, best, verified, verified_right = float("inf"), None, 0.0, 0, 0
        ranked = sorted(agreed, key=lambda a: -a[0])
        right = 0
        for n, (fused, ok) in enumerate(ranked, start=1):
            right += ok
            if n < len(ranked) and ranked[n][0] == fused:   # a cut takes every tie at its value
                continue
            if fused < floor:
                break
            low = cls.lower_bound(right, n)
            best = max(best, low)
            if low >= target:
                cut, bound, verified, verified_right = fused, low, n, right
        revise_bound = cls.lower_bound(sum(revised), len(revised))
        revise = bool(revised) and revise_bound >= target
        return {"cut": cut, "revise": revise, "agreed": len(agreed),
                "agreed_right": sum(ok for _, ok in agreed), "revised": len(revised), "revised_right": sum(revised),
                "rule": f"one-sided {cls.CONFIDENCE:.0%} Clopper-Pearson lower bound >= target",
                "target": float(target), "unchecked": len(unchecked), "unchecked_accuracy": unchecked_accuracy,
                "verified": verified, "verified_right": verified_right,
                "bound": bound if bound is not None else best, "revise_bound": revise_bound,
                "floor": floor if math.isfinite(floor) else None}
