"""Calibration before fusion: "ask what to keep" (seed 002), as a plug-in torch module.

When one instance comes with several modalities, one of them may be missing,
noisy or about something else. Before any fusion head mixes them, this module
compares each modality's *summary* with the others' and turns the agreement
into two gates applied to the **original** features:

- an instance-wise gate (one scalar per modality and instance): how much to
  trust this modality here, from scalar cues (mean and minimum cosine to the
  other modalities' summaries, how many others are present);
- a dimension-wise gate (one value per feature): which components the others
  support (elementwise product of the summary with the others' mean) and
  which they contradict (elementwise absolute difference).

Gates lie in (0, 2) and start at exactly 1 (the last layers are zero
initialised), so an untrained module changes nothing and training can both
damp misleading components and amplify weak but supported ones. The fusion
head that follows is not changed (:mod:`unibind.fusion`). Inputs are
``[B, d_m]`` vectors or ``[B, T, d_m]`` sequences (summarised by their mean
over T, gated at every step).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from pydantic import BaseModel, Field
from torch import nn

#: Scalar cues per modality: mean cosine to the others, minimum cosine, share of others present.
SCALAR_CUES = 3


class PreFusionSettings(BaseModel):
    """Settings of calibration before fusion (off unless ``enabled``)."""

    enabled: bool = Field(default=False, description="Insert the module before the fusion head.")
    hidden: int = Field(default=64, ge=1, description="Width of the common summary space.")
    dropout: float = Field(default=0.1, ge=0, lt=1, description="Dropout on the summaries while training.")
    instance_gate: bool = Field(default=True, description="Per-modality scalar gate per instance.")
    dimension_gate: bool = Field(default=True, description="Per-feature gate per instance.")
    agreement_weight: float = Field(default=0.1, ge=0, description=(
        "Weight of the contrastive loss that aligns the summaries of one instance's modalities while "
        "training, so that their cosine means support (high) or conflict (low)."))
    agreement_temperature: float = Field(default=0.1, gt=0)


class PreFusionCalibration(nn.Module):
    """Gates each modality's original features by how the other modalities' summaries support them."""

    def __init__(self, dims: Mapping[str, int], settings: PreFusionSettings | None = None):
        super().__init__()
        if len(dims) < 2:
            raise ValueError(f"calibration before fusion needs at least two modalities, got {list(dims)}")
        self.settings = settings or PreFusionSettings()
        self.modalities = list(dims)
        h = self.settings.hidden
        self.summarise = nn.ModuleDict({m: nn.Sequential(nn.Linear(d, h), nn.LayerNorm(h))
                                        for m, d in dims.items()})
        self.drop = nn.Dropout(self.settings.dropout)
        self.instance = nn.ModuleDict({m: _zero_last(nn.Sequential(
            nn.Linear(SCALAR_CUES, 16), nn.GELU(), nn.Linear(16, 1))) for m in dims})
        self.dimension = nn.ModuleDict({m: _zero_last(nn.Sequential(
            nn.Linear(2 * h, h), nn.GELU(), nn.Linear(h, d))) for m, d in dims.items()})
        self.last_gates: dict[str, dict[str, torch.Tensor]] = {}
        self._last: tuple[torch.Tensor, torch.Tensor] | None = None

    def forward(self, features: Mapping[str, torch.Tensor],
                presence: torch.Tensor) -> dict[str, torch.Tensor]:
        """Calibrated copies of ``features``; ``presence``: a [B, M] 0/1 mask, ``self.modalities`` order."""
        check_inputs(features, presence, self.modalities)
        present = presence.float()
        summaries = torch.stack([self.drop(self.summarise[m](_pool(features[m])))
                                 for m in self.modalities], 1)
        unit = F.normalize(summaries, dim=-1)
        cosine = unit @ unit.transpose(1, 2)                       # [B, M, M]
        others = present[:, None, :] * (1 - torch.eye(len(self.modalities), device=present.device))
        count = others.sum(-1)                                     # [B, M]
        has = (count > 0).float()
        mean_cos = (cosine * others).sum(-1) / count.clamp_min(1)
        min_cos = torch.where(others > 0, cosine, torch.full_like(cosine, 2.0)).amin(-1) * has
        self._last = (unit, present)
        context = (others @ summaries) / count.clamp_min(1)[..., None]  # others' mean summary [B, M, h]
        scalars = torch.stack([mean_cos, min_cos, count / max(len(self.modalities) - 1, 1)], -1)
        out, gates = {}, {}
        for i, m in enumerate(self.modalities):
            x = features[m]
            gate = torch.ones_like(x)
            if self.settings.instance_gate:
                g = 2 * torch.sigmoid(self.instance[m](scalars[:, i]))          # [B, 1]
                gates.setdefault("instance", {})[m] = g.squeeze(-1)
                gate = gate * _expand(g, x)
            if self.settings.dimension_gate:
                s, c = summaries[:, i], context[:, i]
                cues = torch.cat([s * c, (s - c).abs()], -1) * has[:, i, None]
                d = 2 * torch.sigmoid(self.dimension[m](cues))                   # [B, d_m]
                gates.setdefault("dimension", {})[m] = d
                gate = gate * _expand(d, x)
            out[m] = x * gate * present[:, i].reshape(-1, *([1] * (x.ndim - 1)))
        self.last_gates = {kind: {m: g.detach() for m, g in per.items()} for kind, per in gates.items()}
        return out

    def agreement_loss(self) -> torch.Tensor:
        """Symmetric InfoNCE between the last batch's summaries of each modality pair, over the
        instances where both are present (the other instances of the batch are the negatives)."""
        if self._last is None:
            raise RuntimeError("call the module on a batch first")
        unit, present = self._last
        losses = []
        for i in range(len(self.modalities)):
            for j in range(i + 1, len(self.modalities)):
                both = (present[:, i] > 0) & (present[:, j] > 0)
                if int(both.sum()) < 2:
                    continue
                logits = unit[both, i] @ unit[both, j].T / self.settings.agreement_temperature
                target = torch.arange(logits.shape[0], device=logits.device)
                losses.append((F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2)
        return torch.stack(losses).mean() if losses else unit.new_zeros(())


def check_inputs(features: Mapping[str, torch.Tensor], presence: torch.Tensor,
                 modalities: Sequence[str]) -> None:
    """Clear errors for the mistakes a caller makes: missing modality, wrong mask, mixed batch sizes."""
    missing = [m for m in modalities if m not in features]
    if missing:
        raise ValueError(f"features for {missing} missing (give zeros and presence 0 for absent ones)")
    batch = {m: features[m].shape[0] for m in modalities}
    if len(set(batch.values())) != 1:
        raise ValueError(f"modalities have different batch sizes: {batch}")
    if presence.shape != (next(iter(batch.values())), len(modalities)):
        raise ValueError(f"presence must be [B, {len(modalities)}] in order {list(modalities)}, "
                         f"got {tuple(presence.shape)}")


def _pool(x: torch.Tensor) -> torch.Tensor:
    return x.mean(1) if x.ndim == 3 else x


def _expand(gate: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return gate[:, None, :] if x.ndim == 3 else gate


def _zero_last(block: nn.Sequential) -> nn.Sequential:
    """Zero the last layer so the gate starts at 2 * sigmoid(0) = 1: identity until trained."""
    nn.init.zeros_(block[-1].weight)
    nn.init.zeros_(block[-1].bias)
    return block
