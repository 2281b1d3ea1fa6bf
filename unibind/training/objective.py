"""The LLM-augmented contrastive objective (the paper's equation 6) and its variants.

Each adapted embedding ``v_i`` is pulled towards the text embedding ``z_i``
of its own description and pushed from the other descriptions in the batch:
``L_i = -log exp(s_ii / tau) / sum_j exp(s_ij / tau)`` with ``s`` the cosine.
A batch can hold the same description twice (two photos of one class whose
positives come from the class's centre set, or a caption shared by several
samples): a *group* id per row says which positives are the same, and other
members of one's own group are left out of the denominator instead of being
pushed away. ``symmetric`` adds the text-to-sample direction (CLIP's form).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class Temperature(nn.Module):
    """``tau``: fixed (the paper: no temperature, i.e. 1) or learned as ``log(1/tau)``, clamped like CLIP."""

    def __init__(self, value: float = 1.0, learn: bool = False, max_scale: float = 100.0):
        super().__init__()
        self.max_log_scale = math.log(max_scale)
        log_scale = torch.tensor(math.log(1.0 / value))
        if learn:
            self.log_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_scale", log_scale)

    @property
    def value(self) -> float:
        return float(1.0 / self.scale().detach())

    def scale(self) -> torch.Tensor:
        return self.log_scale.clamp(max=self.max_log_scale).exp()


def contrastive_loss(embeddings: torch.Tensor, texts: torch.Tensor, groups: torch.Tensor, *,
                     scale: torch.Tensor | float = 1.0, symmetric: bool = False) -> torch.Tensor:
    """Mean InfoNCE loss of ``embeddings [B, d]`` against their positives ``texts [B, d]``.

    ``groups [B]``: rows with equal ids share a positive and are not each other's negatives.
    """
    v = F.normalize(embeddings, dim=-1)
    z = F.normalize(texts, dim=-1)
    logits = (v @ z.T) * scale
    same = groups.unsqueeze(0) == groups.unsqueeze(1)
    same.fill_diagonal_(False)
    logits = logits.masked_fill(same, float("-inf"))
    target = torch.arange(len(v), device=v.device)
    loss = F.cross_entropy(logits, target)
    if symmetric:
        loss = 0.5 * (loss + F.cross_entropy(logits.T, target))
    return loss


def mean_gap(embeddings: torch.Tensor, texts: torch.Tensor) -> torch.Tensor:
    """``||mean(normalize(v)) - mean(normalize(z))||^2``: the squared modality gap of one batch.

    Added to the loss with a weight (``TrainSettings.balance_weight``) it pulls a
    modality's cone onto the text's, the gap Liang et al. (2022) measure.
    """
    v = F.normalize(embeddings, dim=-1).mean(0)
    z = F.normalize(texts, dim=-1).mean(0)
    return (v - z).pow(2).sum()
