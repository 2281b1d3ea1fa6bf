"""Temperature scaling (Guo et al., 2017): one positive scalar fitted by NLL."""

from __future__ import annotations

import math

import torch
from pydantic import BaseModel, Field, model_validator

from unibind.calibration.base import CalibrationFitError, check_fit_inputs, minimise_nll


class TemperatureSettings(BaseModel):
    """Settings of temperature scaling."""

    temperature: float = Field(default=1.0, gt=0, description="Starting (or fixed) temperature.")
    max_iter: int = Field(default=200, ge=1)
    min_temperature: float = Field(default=0.01, gt=0, description=(
        "Smallest temperature accepted from a fit: below it the probabilities are one-hot for any logits "
        "UniBind makes (100 x cosine), i.e. the fitting data asked for certainty."))
    max_temperature: float = Field(default=100.0, gt=0, description=(
        "Largest temperature accepted from a fit: at 100 the probabilities are the softmax of the raw "
        "cosines, which lie within a few hundredths of each other, i.e. nearly uniform."))

    @model_validator(mode="after")
    def _ordered(self) -> TemperatureSettings:
        if self.min_temperature >= self.max_temperature:
            raise ValueError("min_temperature must be below max_temperature")
        return self


def why_no_temperature(logits: torch.Tensor, labels: torch.Tensor) -> str | None:
    """Why no finite positive temperature minimises the NLL of ``logits`` against ``labels``, or None.

    With b = 1/T the NLL is convex in b and its slope runs from ``mean(mean_c z - z_y)`` at b = 0 to
    ``mean(max_c z - z_y)`` as b grows. So a finite optimum exists exactly when the true class scores
    above the average class on average (else it lies at T -> infinity: uniform probabilities) and at
    least one item is not predicted right (else it lies at T -> 0: certainty).
    """
    true = logits.gather(1, labels[:, None]).squeeze(1)
    n = len(labels)
    if bool((true >= logits.max(1).values).all()):
        return (f"all {n} fitting items are predicted right, so the NLL keeps falling as T -> 0 (full "
                "certainty) and has no finite optimum; fit on more data, with some wrong predictions")
    margin = float((true - logits.mean(1)).mean())
    if margin <= 0:
        return (f"on the {n} fitting items the true class scores no higher than the average class (mean margin "
                f"{margin:.3g}), so the NLL is lowest at T -> infinity (uniform probabilities): these scores "
                "carry no confidence to calibrate")
    return None


class TemperatureScaler:
    """``softmax(logits / T)`` with ``T = exp(log_t)``, so T stays positive while fitting.

    NLL is convex in 1/T, and L-BFGS on log T reaches the same optimum from any start. A fit whose
    optimum is infinite or outside [min_temperature, max_temperature] raises
    :class:`CalibrationFitError` saying why, instead of returning a degenerate T.
    """

    class_specific = False

    def __init__(self, settings: TemperatureSettings | None = None):
        self.settings = settings or TemperatureSettings()
        self.log_t = torch.tensor(math.log(self.settings.temperature))

    @property
    def temperature(self) -> float:
        return float(self.log_t.exp())

    def fit(self, logits: torch.Tensor, labels: torch.Tensor) -> TemperatureScaler:
        """Minimise the NLL of held-out ``labels`` over log T (L-BFGS); refuse a degenerate optimum."""
        logits, labels = check_fit_inputs(logits, labels)
        why = why_no_temperature(logits, labels)
        if why is not None:
            raise CalibrationFitError(f"no temperature fitted: {why}")
        log_t = self.log_t.clone().double().requires_grad_(True)
        minimise_nll([log_t], lambda: logits / log_t.exp(), labels, self.settings.max_iter)
        fitted = float(log_t.detach().exp())
        low, high = self.settings.min_temperature, self.settings.max_temperature
        if not low <= fitted <= high:
            wrong = int((logits.argmax(1) != labels).sum())
            meaning = ("nearly uniform probabilities: on this data the scores barely tell the classes apart"
                       if fitted > high else "near-certain probabilities; fit on more data, with some wrong "
                                              "predictions")
            raise CalibrationFitError(
                f"no temperature fitted: the best T on these {len(labels)} items ({wrong} predicted wrong) is "
                f"{fitted:.3g}, outside the accepted [{low:g}, {high:g}] ({meaning})")
        self.log_t = log_t.detach().float()
        return self

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.softmax(logits.float() / self.log_t.exp(), dim=-1)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"log_temperature": self.log_t.reshape(1)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.log_t = state["log_temperature"].reshape(()).float()
