"""Records that the library returns and the command line prints."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Failure(BaseModel):
    """One input that a batch run skipped, and why."""

    source: str
    reason: str


class ClassScore(BaseModel):
    label: str
    probability: float
    similarity: float


class ValidatorRecord(BaseModel):
    """What one fallback validator said about a low-confidence prediction."""

    name: str
    verdict: Literal["agree", "disagree", "abstain"]
    support: float | None = Field(default=None, description="Its probability that the predicted label is right.")
    label: str | None = Field(default=None, description="The label it prefers.")
    detail: str = ""


class FallbackRecord(BaseModel):
    """Whether the fallback ran, what each validator said, and the final decision."""

    threshold: float
    ran: bool
    decision: Literal["accepted", "verified", "revised", "rejected"] = Field(description=(
        "accepted: confident enough, no check; verified: validators agreed; revised: validators chose another "
        "label; rejected: low confidence that the validators did not confirm (treat as 'don't know')."))
    original_label: str
    original_confidence: float
    validators: list[ValidatorRecord] = Field(default_factory=list)


class CentreMatch(BaseModel):
    """One of the top classes and the centre description that matched the input best."""

    label: str
    probability: float
    description: str
    description_similarity: float


class ModalityContribution(BaseModel):
    modality: str
    label: str = Field(description="This modality's own top label.")
    probability: float = Field(description="This modality's probability of the final label.")
    share: float = Field(description="Its share of the support for the final label across modalities.")


class Explanation(BaseModel):
    """Why: top classes with calibrated probabilities, best-matching descriptions, entropy, modalities."""

    top: list[CentreMatch]
    entropy: float
    modalities: list[ModalityContribution] = Field(default_factory=list)


class CalibrationSetCheck(BaseModel):
    """Whether the files classified together, as a whole, are unlike the files their calibrator was fitted on."""

    files: int = Field(description="Files of the set tested (a seeded sample of at most 2,000).")
    reference: int = Field(description="The calibrator's fitting files it was tested against: those among the "
                           "set's nearest neighbours (at least 20, or all).")
    auroc: float = Field(description="How well a classifier tells the set from the fitting files (0.5: not at all).")
    p_value: float = Field(description="One-sided Mann-Whitney p of the classifier's held-out scores.")
    unlike: bool = Field(description="True: the set is unlike them (p below 0.001 and AUROC at least 0.75).")


class Prediction(BaseModel):
    """A zero-shot prediction for one input."""

    source: str
    modality: str
    label: str
    confidence: float
    entropy: float = Field(description="Predictive entropy of the probabilities, in nats.")
    top: list[ClassScore]
    calibrated: bool = Field(description="False until a calibrator is fitted on held-out data.")
    calibration_domain: bool | None = Field(default=None, description="False: the input is unlike the files its "
                                            "calibrator was fitted on (unibind.calibration.domain), so its "
                                            "confidence is not calibrated for it; None: not checked.")
    calibration_set: CalibrationSetCheck | None = Field(
        default=None, description="The files of this modality classified with it, tested as a whole against the "
        "calibrator's fitting files (at least 20 files; None: not tested).")
    fallback: FallbackRecord | None = Field(default=None, description="Set when a fallback policy was given; "
                                            "label/confidence are then the final decision's.")
    explanation: Explanation | None = None
    warnings: list[str] = Field(default_factory=list, description="Why this input's prediction means little "
                                "(e.g. silent or constant audio), though it was classified.")


class LabelDecision(BaseModel):
    """One class of a multi-label prediction: its calibrated probability against its own threshold."""

    label: str
    probability: float = Field(description="Calibrated probability that the input holds this class (independent "
                               "of the other classes: a row need not sum to one).")
    threshold: float = Field(description="The class's fitted decision threshold.")
    similarity: float
    fallback: FallbackRecord | None = Field(default=None, description="Set when a fallback policy was given and "
                                            "this class was above its threshold.")


class MultiLabelPrediction(BaseModel):
    """Every class an input holds by its fitted per-class thresholds (possibly none)."""

    source: str
    modality: str
    labels: list[LabelDecision] = Field(description="Classes above their thresholds (and kept by the fallback), "
                                        "most probable first; empty: no class above its threshold.")
    top: list[LabelDecision] = Field(description="The most probable classes, above their threshold or not.")
    calibrated: bool = Field(default=True, description="Per-class temperature scaling fitted on held-out data.")
    rejected: list[LabelDecision] = Field(default_factory=list, description="Above their thresholds but not "
                                          "confirmed by the fallback validators.")
    explanation: Explanation | None = Field(default=None, description="Entropy: mean binary entropy per class.")
    calibration_domain: bool | None = Field(default=None, description="As Prediction.calibration_domain, for the "
                                            "multi-label calibrator's fitting files.")
    calibration_set: CalibrationSetCheck | None = Field(default=None, description="As "
                                                        "Prediction.calibration_set.")
    warnings: list[str] = Field(default_factory=list)
