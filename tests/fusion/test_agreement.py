"""The agreement loss aligns one instance's modality summaries, so their cosine carries support/conflict."""

from __future__ import annotations

import pytest
import torch

from unibind.calibration.prefusion import PreFusionCalibration, PreFusionSettings


def test_agreement_loss_falls_and_paired_summaries_end_up_closer_than_swapped_ones():
    # simulated pairs: both modalities are different linear views of one latent vector per instance
    g = torch.Generator().manual_seed(0)
    latent = torch.randn(128, 8, generator=g)
    feats = {"image": latent @ torch.randn(8, 20, generator=g),
             "audio": latent @ torch.randn(8, 10, generator=g)}
    presence = torch.ones(128, 2, dtype=torch.bool)
    module = PreFusionCalibration({"image": 20, "audio": 10}, PreFusionSettings(enabled=True, dropout=0.0))
    optimiser = torch.optim.Adam(module.parameters(), lr=1e-2)
    module(feats, presence)
    first = module.agreement_loss().item()
    for _ in range(60):
        module(feats, presence)
        loss = module.agreement_loss()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert loss.item() < 0.5 * first
    unit, _ = module._last
    paired = (unit[:, 0] * unit[:, 1]).sum(-1)
    swapped = (unit[:, 0] * unit[:, 1].roll(1, 0)).sum(-1)
    assert paired.mean() > swapped.mean() + 0.3


def test_agreement_loss_needs_a_batch_and_skips_absent_pairs():
    module = PreFusionCalibration({"a": 3, "b": 3}, PreFusionSettings(enabled=True))
    with pytest.raises(RuntimeError, match="batch first"):
        module.agreement_loss()
    presence = torch.tensor([[1, 0], [1, 0], [0, 1]], dtype=torch.bool)
    module({"a": torch.randn(3, 3), "b": torch.randn(3, 3)}, presence)
    assert float(module.agreement_loss()) == 0.0
