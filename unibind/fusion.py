"""Fusion heads for instances with several modalities, with optional calibration before fusion.

A :class:`FusionClassifier` takes ``{modality: features [B, d_m]}`` and a
presence mask ``[B, M]`` (absent modalities: zeros and 0), optionally runs
trainable per-modality adapters, then :class:`~unibind.calibration.prefusion.PreFusionCalibration`
(off by default), then one of three heads: ``mean`` (project each modality,
average the present ones), ``concat`` (concatenate, absent ones zero) or
``attention`` (a learned query attends over the present modalities' tokens).
The calibration module never changes the head: the same head runs with or
without it, which is what makes the comparison fair.

:func:`train_fusion` fits the whole thing (adapters, module, head) with AdamW, plus the
module's agreement loss;
:func:`drop_modality`, :func:`add_noise` and :func:`swap_modality` make the
test conditions used to measure it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, Field
from torch import nn

from unibind.calibration.prefusion import PreFusionCalibration, PreFusionSettings, check_inputs

Head = Literal["mean", "concat", "attention"]


class FusionSettings(BaseModel):
    """The fusion head, calibration before it, and how they are trained."""

    head: Head = "mean"
    hidden: int = Field(default=128, ge=1, description="Width of the head's per-modality projection.")
    prefusion: PreFusionSettings = Field(default_factory=PreFusionSettings)
    epochs: int = Field(default=200, ge=1)
    batch_size: int = Field(default=32, ge=1)
    lr: float = Field(default=3e-3, gt=0)
    weight_decay: float = Field(default=1e-2, ge=0)
    modality_dropout: float = Field(default=0.2, ge=0, lt=1, description=(
        "While training, drop each modality of an instance with this probability (never all of them), "
        "so the model sees incomplete instances."))
    conflict: float = Field(default=0.0, ge=0, lt=1, description=(
        "While training, replace one modality of an instance with another instance's with this "
        "probability (its label stays), so the model meets conflicting modalities."))
    seed: int = 0


class FusionClassifier(nn.Module):
    """Optional adapters -> optional calibration before fusion -> fusion head -> class logits."""

    def __init__(self, dims: Mapping[str, int], classes: int, settings: FusionSettings | None = None,
                 adapters: Mapping[str, nn.Module] | None = None):
        super().__init__()
        self.settings = settings or FusionSettings()
        self.modalities = list(dims)
        self.adapters = nn.ModuleDict(dict(adapters or {}))
        dims = {m: _out_dim(self.adapters[m], d) if m in self.adapters else d for m, d in dims.items()}
        h, head = self.settings.hidden, self.settings.head
        if head == "concat":
            self.head = nn.Sequential(nn.Linear(sum(dims.values()), h), nn.GELU(), nn.Linear(h, classes))
        else:
            self.project = nn.ModuleDict({m: nn.Linear(d, h) for m, d in dims.items()})
            if head == "attention":
                self.query = nn.Parameter(torch.zeros(1, 1, h))
                self.kind = nn.Parameter(torch.zeros(len(dims), h))
                self.attend = nn.MultiheadAttention(h, num_heads=4 if h % 4 == 0 else 1, batch_first=True)
            self.head = nn.Sequential(nn.GELU(), nn.Linear(h, classes))
        # built after the head, so that from one seed the head starts the same with or without it
        self.prefusion = PreFusionCalibration(dims, self.settings.prefusion) \
            if self.settings.prefusion.enabled else None

    def forward(self, features: Mapping[str, torch.Tensor], presence: torch.Tensor) -> torch.Tensor:
        check_inputs(features, presence, self.modalities)
        if not bool(presence.any(1).all()):
            raise ValueError("every instance needs at least one present modality")
        x = {m: self.adapters[m](features[m]) if m in self.adapters else features[m] for m in self.modalities}
        x = {m: x[m] * presence[:, i, None].float() for i, m in enumerate(self.modalities)}
        if self.prefusion is not None:
            x = self.prefusion(x, presence)
        if self.settings.head == "concat":
            return self.head(torch.cat([x[m] for m in self.modalities], -1))
        tokens = torch.stack([self.project[m](x[m]) for m in self.modalities], 1)  # [B, M, h]
        mask = presence.float()
        if self.settings.head == "mean":
            fused = (tokens * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        else:
            query = self.query.expand(tokens.shape[0], -1, -1)
            fused, _ = self.attend(query, tokens + self.kind, tokens + self.kind, key_padding_mask=mask == 0)
            fused = fused.squeeze(1)
        return self.head(fused)


def _out_dim(adapter: nn.Module, in_dim: int) -> int:
    from unibind.devices import module_device

    with torch.no_grad():  # a probe where the adapter's weights are (a space's may be on a GPU)
        return int(adapter(torch.zeros(1, in_dim, device=module_device(adapter))).shape[-1])


def train_fusion(model: FusionClassifier, features: Mapping[str, torch.Tensor], presence: torch.Tensor,
                 labels: torch.Tensor) -> FusionClassifier:
    """Fit every trainable part of ``model`` by cross-entropy with AdamW (seeded, minibatches)."""
    s = model.settings
    generator = torch.Generator().manual_seed(s.seed)
    torch.manual_seed(s.seed)
    optimiser = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    n = labels.shape[0]
    model.train()
    for _ in range(s.epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, s.batch_size):
            idx = order[start:start + s.batch_size]
            mask = presence[idx].clone()
            if s.modality_dropout > 0:
                mask = _drop_some(mask, s.modality_dropout, generator)
            batch = {m: features[m][idx] for m in model.modalities}
            if s.conflict > 0:
                batch = _swap_some(batch, model.modalities, s.conflict, generator)
            loss = F.cross_entropy(model(batch, mask), labels[idx])
            if model.prefusion is not None and model.prefusion.settings.agreement_weight > 0:
                loss = loss + model.prefusion.settings.agreement_weight * model.prefusion.agreement_loss()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    model.eval()
    return model


def _drop_some(mask: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    keep = torch.rand(mask.shape, generator=generator) >= p
    dropped = mask & keep
    empty = ~dropped.any(1)
    dropped[empty] = mask[empty]  # never drop every modality of an instance
    return dropped


def _swap_some(batch: dict[str, torch.Tensor], modalities: list[str], p: float,
               generator: torch.Generator) -> dict[str, torch.Tensor]:
    n = next(iter(batch.values())).shape[0]
    if n < 2:
        return batch
    hit = torch.rand(n, generator=generator) < p
    which = torch.randint(len(modalities), (n,), generator=generator)
    donor = (torch.arange(n) + torch.randint(1, n, (n,), generator=generator)) % n  # never itself
    out = dict(batch)
    for i, m in enumerate(modalities):
        rows = hit & (which == i)
        if rows.any():
            out[m] = batch[m].clone()
            out[m][rows] = batch[m][donor[rows]]
    return out


@torch.no_grad()
def predict(model: FusionClassifier, features: Mapping[str, torch.Tensor],
            presence: torch.Tensor) -> torch.Tensor:
    """Class probabilities [B, C] (eval mode)."""
    model.eval()
    return torch.softmax(model(features, presence), -1)


# -- test conditions -------------------------------------------------------------------------------
def drop_modality(features: dict[str, torch.Tensor], presence: torch.Tensor, modalities: list[str],
                  modality: str) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """``modality`` removed from every instance: zero features, presence 0."""
    i = modalities.index(modality)
    presence = presence.clone()
    presence[:, i] = False
    return {**features, modality: torch.zeros_like(features[modality])}, presence


def add_noise(features: dict[str, torch.Tensor], modality: str, level: float, generator: torch.Generator
              ) -> dict[str, torch.Tensor]:
    """Gaussian noise on ``modality`` with a norm ``level`` times each instance's feature norm."""
    x = features[modality]
    noise = torch.randn(x.shape, generator=generator)
    noise = F.normalize(noise.flatten(1), dim=-1).reshape(x.shape)
    scale = x.flatten(1).norm(dim=-1).reshape(-1, *([1] * (x.ndim - 1)))
    return {**features, modality: x + level * scale * noise}


def swap_modality(features: dict[str, torch.Tensor], modality: str, generator: torch.Generator
                  ) -> dict[str, torch.Tensor]:
    """``modality`` of each instance replaced by another instance's (a derangement: nobody keeps its own)."""
    n = features[modality].shape[0]
    if n < 2:
        raise ValueError("swapping needs at least two instances")
    shift = torch.randperm(n, generator=generator)
    derangement = torch.empty(n, dtype=torch.long)
    derangement[shift] = shift.roll(1)  # a random cycle over all instances
    return {**features, modality: features[modality][derangement]}
