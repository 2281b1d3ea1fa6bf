"""Isotonic regression, one-vs-rest per class, then renormalised (Zadrozny & Elkan, 2002).

Non-parametric: it can fix miscalibration that no temperature can (e.g. a
bridge that is over-confident on some classes and under-confident on others),
but it needs more held-out data than temperature scaling and is tied to the
label order it was fitted on. The fitted step functions are kept as tensors
and applied with linear interpolation, as scikit-learn's ``predict`` does.
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import BaseModel, Field

from unibind.calibration.base import check_fit_inputs


class IsotonicSettings(BaseModel):
    """Settings of isotonic calibration."""

    floor: float = Field(default=1e-4, ge=0, lt=0.1, description="Smallest per-class probability before "
                         "renormalising: an unseen corner never gets probability 0 (infinite NLL).")


class IsotonicCalibrator:
    """Per-class isotonic maps of softmax probabilities, renormalised to sum to one."""

    class_specific = True

    def __init__(self, settings: IsotonicSettings | None = None):
        self.settings = settings or IsotonicSettings()
        self.knots_x: list[np.ndarray] = []
        self.knots_y: list[np.ndarray] = []

    def fit(self, logits: torch.Tensor, labels: torch.Tensor) -> IsotonicCalibrator:
        from sklearn.isotonic import IsotonicRegression

        logits, labels = check_fit_inputs(logits, labels)
        probs = torch.softmax(logits, -1).numpy()
        self.knots_x, self.knots_y = [], []
        for k in range(probs.shape[1]):
            reg = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            reg.fit(probs[:, k], (labels.numpy() == k).astype(np.float64))
            self.knots_x.append(np.asarray(reg.X_thresholds_, dtype=np.float64))
            self.knots_y.append(np.asarray(reg.y_thresholds_, dtype=np.float64))
        return self

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        if not self.knots_x:
            raise RuntimeError("isotonic calibration is not fitted")
        if logits.shape[-1] != len(self.knots_x):
            raise ValueError(f"fitted on {len(self.knots_x)} classes, got logits for {logits.shape[-1]}")
        probs = torch.softmax(logits.double(), -1).numpy()
        mapped = np.stack([np.interp(probs[:, k], x, y) for k, (x, y) in
                           enumerate(zip(self.knots_x, self.knots_y))], axis=1)
        mapped = np.maximum(mapped, self.settings.floor)
        return torch.from_numpy(mapped / mapped.sum(1, keepdims=True)).float()

    def state_dict(self) -> dict[str, torch.Tensor]:
        if not self.knots_x:
            raise RuntimeError("isotonic calibration is not fitted")
        return {"x": torch.from_numpy(np.concatenate(self.knots_x)),
                "y": torch.from_numpy(np.concatenate(self.knots_y)),
                "sizes": torch.tensor([len(x) for x in self.knots_x], dtype=torch.int64)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        sizes = state["sizes"].tolist()
        self.knots_x = [t.double().numpy() for t in torch.split(state["x"], sizes)]
        self.knots_y = [t.double().numpy() for t in torch.split(state["y"], sizes)]
