"""Yes/no verification: is this sample its predicted class, or a near competitor, or "not that class"?

The sample is scored against the predicted class's centres, the centres of the
classes nearest to it in the space (its most confusable competitors) and a negated
prompt set ("not a {}"); the support is the predicted class's share of a softmax
over those scores. A second look with a narrower question than the full label set.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pydantic import BaseModel, Field

from unibind.results import ValidatorRecord
from unibind.validation.base import Case, ClassTexts, softmax_support


class YesNoSettings(BaseModel):
    """Settings of yes/no verification."""

    competitors: int = Field(default=2, ge=1, description="Nearest competing classes to score against.")
    negations: list[str] = Field(default_factory=lambda: ["not a {}.", "something other than a {}.",
                                                          "there is no {} here."],
                                 description="Negated prompts, '{}' is the predicted class.")
    scale: float = Field(default=100.0, gt=0, description="Cosine -> logit scale of the yes/no softmax.")
    accept_at: float = Field(default=0.5, gt=0, lt=1, description="Yes when the support reaches this.")


class YesNoVerifier:
    name = "yes-no"

    def __init__(self, settings: YesNoSettings | None = None, registry: Any = None):
        self.settings = settings or YesNoSettings()
        self._negated: dict[str, torch.Tensor] = {}

    def _negation(self, label: str, space: Any) -> torch.Tensor:
        if label not in self._negated:
            # through the text cache: a label's negations are the same texts every run, and encoding
            # them directly loaded the text model into every classify the fallback re-checked
            self._negated[label] = space.text_embedder()([t.format(label) for t in self.settings.negations])
        return self._negated[label]

    def validate(self, case: Case, texts: ClassTexts, space: Any) -> ValidatorRecord:
        s = self.settings
        pred = case.predicted
        means = F.normalize((texts.centres * texts.mask.unsqueeze(-1)).sum(1), dim=-1)
        closeness = means @ means[pred]
        closeness[pred] = float("-inf")
        rivals = closeness.topk(min(s.competitors, len(texts.labels) - 1)).indices.tolist()
        scores = texts.scores(case.embedding[None])[0]
        negated = float((self._negation(case.labels[pred], space) @ case.embedding.float()).max())
        options = torch.tensor([float(scores[pred])] + [float(scores[r]) for r in rivals] + [negated])
        probs = softmax_support(options, s.scale)
        names = [case.labels[pred]] + [case.labels[r] for r in rivals] + [f"not {case.labels[pred]}"]
        best = int(probs.argmax())
        yes = float(probs[0]) >= s.accept_at
        return ValidatorRecord(
            name=self.name, verdict="agree" if yes else "disagree", support=float(probs[0]),
            label=case.labels[pred] if yes else (names[best] if 0 < best <= len(rivals) else None),
            detail=", ".join(f"{n} {p:.2f}" for n, p in zip(names, probs.tolist())))
