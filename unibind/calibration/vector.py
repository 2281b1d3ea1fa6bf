"""Vector scaling (Guo et al., 2017): a per-class scale and bias on the logits, fitted by NLL."""

from __future__ import annotations

import torch
from pydantic import BaseModel, Field

from unibind.calibration.base import CalibrationFitError, check_fit_inputs, minimise_nll
from unibind.calibration.temperature import TemperatureScaler


class VectorSettings(BaseModel):
    """Settings of vector scaling."""

    max_iter: int = Field(default=300, ge=1)
    l2: float = Field(default=1e-4, ge=0, description="Pull of the biases towards 0 and the scales towards "
                      "the fitted 1/T (keeps rare classes from running away on small held-out sets).")


class VectorScaler:
    """``softmax(w * logits + b)`` per class; starts from temperature scaling's ``w = 1/T, b = 0``."""

    class_specific = True

    def __init__(self, settings: VectorSettings | None = None):
        self.settings = settings or VectorSettings()
        self.weight: torch.Tensor | None = None
        self.bias: torch.Tensor | None = None

    def fit(self, logits: torch.Tensor, labels: torch.Tensor) -> VectorScaler:
        logits, labels = check_fit_inputs(logits, labels)
        try:
            start = 1.0 / TemperatureScaler().fit(logits, labels).temperature
        except CalibrationFitError as exc:   # its start is temperature scaling's: degenerate data stay refused
            raise CalibrationFitError(f"vector scaling starts from temperature scaling, and {exc}") from exc
        classes = logits.shape[1]
        weight = torch.full((classes,), start, dtype=torch.float64, requires_grad=True)
        bias = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
        l2 = self.settings.l2

        def penalty() -> torch.Tensor:
            return l2 * ((bias ** 2).sum() + ((weight - start) ** 2).sum() / start ** 2)

        minimise_nll([weight, bias], lambda: logits * weight + bias, labels, self.settings.max_iter, penalty)
        self.weight, self.bias = weight.detach().float(), bias.detach().float()
        return self

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        if self.weight is None or self.bias is None:
            raise RuntimeError("vector scaling is not fitted")
        if logits.shape[-1] != self.weight.numel():
            raise ValueError(f"fitted on {self.weight.numel()} classes, got logits for {logits.shape[-1]}")
        return torch.softmax(logits.float() * self.weight + self.bias, dim=-1)

    def state_dict(self) -> dict[str, torch.Tensor]:
        if self.weight is None or self.bias is None:
            raise RuntimeError("vector scaling is not fitted")
        return {"weight": self.weight, "bias": self.bias}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.weight, self.bias = state["weight"].float(), state["bias"].float()
