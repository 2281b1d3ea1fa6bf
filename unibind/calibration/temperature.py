"""Temperature scaling (Guo et al., 2017): one positive scalar fitted by NLL."""

from __future__ import annotations

import math

import torch
from pydantic import BaseModel, Field

from unibind.calibration.base import check_fit_inputs, minimise_nll


class TemperatureSettings(BaseModel):
    """Settings of temperature scaling."""

    temperature: float = Field(default=1.0, gt=0, description="Starting (or fixed) temperature.")
    max_iter: int = Field(default=200, ge=1)


class TemperatureScaler:
    """``softmax(logits / T)`` with ``T = exp(log_t)``, so T stays positive while fitting.

    NLL is convex in 1/T, and L-BFGS on log T reaches the same optimum from any start.
    """

    class_specific = False

    def __init__(self, settings: TemperatureSettings | None = None):
        self.settings = settings or TemperatureSettings()
        self.log_t = torch.tensor(math.log(self.settings.temperature))

    @property
    def temperature(self) -> float:
        return float(self.log_t.exp())

    def fit(self, logits: torch.Tensor, labels: torch.Tensor) -> TemperatureScaler:
        """Minimise the NLL of held-out ``labels`` over log T (L-BFGS)."""
        logits, labels = check_fit_inputs(logits, labels)
        log_t = self.log_t.clone().double().requires_grad_(True)
        minimise_nll([log_t], lambda: logits / log_t.exp(), labels, self.settings.max_iter)
        self.log_t = log_t.detach().float()
        return self

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.softmax(logits.float() / self.log_t.exp(), dim=-1)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"log_temperature": self.log_t.reshape(1)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.log_t = state["log_temperature"].reshape(()).float()
