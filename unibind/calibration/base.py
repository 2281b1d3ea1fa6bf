"""What every calibrator is, and the NLL fit that the parametric ones share.

A calibrator maps logits ``[N, C]`` to probabilities ``[N, C]``:
``fit(logits, labels) -> self``, ``__call__(logits) -> probs``, and
``state_dict()`` / ``load_state_dict()`` of tensors (saved as safetensors, never
pickled). ``class_specific`` says whether its parameters are tied to the order
of the labels it was fitted on (vector scaling, isotonic) or not (temperature).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F

from unibind.errors import UniBindError


class CalibrationFitError(UniBindError, ValueError):
    """The fitting data admit no sensible calibrator (e.g. an infinite temperature); says why in one line."""


@runtime_checkable
class Calibrator(Protocol):
    class_specific: bool

    def fit(self, logits: torch.Tensor, labels: torch.Tensor) -> Calibrator: ...

    def __call__(self, logits: torch.Tensor) -> torch.Tensor: ...

    def state_dict(self) -> dict[str, torch.Tensor]: ...

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None: ...


def check_fit_inputs(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    logits, labels = torch.as_tensor(logits).detach().double(), torch.as_tensor(labels).detach().long()
    if logits.ndim != 2 or labels.shape != (logits.shape[0],):
        raise ValueError(f"expected logits [N, C] and labels [N], got {tuple(logits.shape)}, {tuple(labels.shape)}")
    if logits.shape[0] < 2:
        raise ValueError("need at least two held-out samples to fit a calibrator")
    if labels.min() < 0 or labels.max() >= logits.shape[1]:
        raise ValueError(f"labels must lie in [0, {logits.shape[1]})")
    return logits, labels


def minimise_nll(params: list[torch.Tensor], transform: Callable[[], torch.Tensor], labels: torch.Tensor,
                 max_iter: int, penalty: Callable[[], torch.Tensor] | None = None) -> None:
    """L-BFGS with a strong-Wolfe line search on the NLL of ``transform()`` (the calibrated logits)."""
    optimiser = torch.optim.LBFGS(params, lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe",
                                  tolerance_grad=1e-9, tolerance_change=1e-12)

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = F.cross_entropy(transform(), labels)
        if penalty is not None:
            loss = loss + penalty()
        loss.backward()
        return loss

    optimiser.step(closure)
