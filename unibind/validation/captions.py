"""Caption agreement: a captioner describes the sample; its caption's class scores are fused with the original.

The captioner is found through the registry (a description source producing
``sample_captions`` for the sample's modality), so any installed captioner
serves; with none installed, or a caption that fails, the validator abstains.
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import BaseModel, Field

from unibind.errors import SettingsError
from unibind.results import ValidatorRecord
from unibind.validation.base import Case, ClassTexts, agreement_record, softmax_support


class CaptionSettings(BaseModel):
    """Settings of caption agreement."""

    captioner: str | None = Field(default=None, description="Registered captioner (None: the first that reads "
                                  "the modality, by name).")
    captioner_settings: dict[str, Any] = Field(default_factory=dict)
    captions: int = Field(default=1, ge=1, description="Captions per sample (their embeddings are averaged).")
    weight: float = Field(default=0.5, ge=0, le=1, description="Weight of the original probabilities in the fusion.")
    scale: float = Field(default=100.0, gt=0, description="Cosine -> logit scale of the caption's class scores.")


class CaptionAgreement:
    name = "caption-agreement"

    def __init__(self, settings: CaptionSettings | None = None, registry: Any = None):
        self.settings = settings or CaptionSettings()
        self.registry = registry
        self._captioners: dict[str, tuple[str, Any] | None] = {}

    def _captioner(self, modality: str, registry: Any) -> tuple[str, Any] | None:
        if modality not in self._captioners:
            specs = [s for s in registry.by_kind("description_source") if "sample_captions" in s.produces
                     and (not s.modalities or modality in s.modalities)]
            if self.settings.captioner:
                specs = [s for s in specs if s.name == self.settings.captioner]
            self._captioners[modality] = None
            for spec in sorted(specs, key=lambda s: s.name):
                try:    # the first that builds: one that needs a model named (hf-captioner) is passed over
                    self._captioners[modality] = (spec.name, spec.build(self.settings.captioner_settings or None))
                    break
                except SettingsError:
                    if self.settings.captioner:
                        raise
        return self._captioners[modality]

    def validate(self, case: Case, texts: ClassTexts, space: Any) -> ValidatorRecord:
        from unibind.knowledge.records import DescriptionDraft, SampleRef

        found = self._captioner(case.modality, self.registry or space.registry)
        if found is None:
            return ValidatorRecord(name=self.name, verdict="abstain",
                                   detail=f"no captioner for {case.modality} is installed")
        if case.path is None:
            return ValidatorRecord(name=self.name, verdict="abstain", detail="no file to caption")
        name, captioner = found
        sample = SampleRef.from_path(case.path, case.modality)
        captions = [item.text for _, item in captioner.caption([sample], n=self.settings.captions)
                    if isinstance(item, DescriptionDraft)]
        if not captions:
            return ValidatorRecord(name=self.name, verdict="abstain", detail=f"{name} gave no caption")
        # cached: offline captions come from a closed set of phrases ("a photo of a koala")
        embedded = torch.nn.functional.normalize(space.text_embedder()(captions).mean(0, keepdim=True),
                                                 dim=-1)
        caption_probs = softmax_support(texts.scores(embedded)[0], self.settings.scale)
        w = self.settings.weight
        fused = w * case.probs.float() + (1 - w) * caption_probs
        return agreement_record(self.name, case, fused, f"{name}: {captions[0]!r}")
