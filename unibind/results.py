"""Records that the library returns and the command line prints."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Failure(BaseModel):
    """One input that a batch run skipped, and why."""

    source: str
    reason: str


class ClassScore(BaseModel):
    label: str
    probability: float
    similarity: float


class Prediction(BaseModel):
    """A zero-shot prediction for one input."""

    source: str
    modality: str
    label: str
    confidence: float
    entropy: float = Field(description="Predictive entropy of the probabilities, in nats.")
    top: list[ClassScore]
    calibrated: bool = Field(description="False until a calibrator is fitted on held-out data.")
