"""Cross-modal agreement: the instance's other modalities (its sound, its picture) vote on the label."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import BaseModel, Field

from unibind.results import ValidatorRecord
from unibind.validation.base import Case, ClassTexts, agreement_record


class CrossModalSettings(BaseModel):
    """Settings of cross-modal agreement."""

    weight: float = Field(default=0.5, ge=0, le=1, description="Weight of this modality against the mean of "
                          "the others.")


class CrossModalAgreement:
    name = "cross-modal"

    def __init__(self, settings: CrossModalSettings | None = None, registry: Any = None):
        self.settings = settings or CrossModalSettings()

    def validate(self, case: Case, texts: ClassTexts, space: Any) -> ValidatorRecord:
        if not case.others:
            return ValidatorRecord(name=self.name, verdict="abstain", detail="single-modality instance")
        others = torch.stack([p.float() for p in case.others.values()]).mean(0)
        w = self.settings.weight
        fused = w * case.probs.float() + (1 - w) * others
        return agreement_record(self.name, case, fused, "with " + ", ".join(sorted(case.others)))
