"""The PointNet++ encoder: shapes, weights through safetensors, and that it really trains."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from unibind_plugin_pointcloud.pointnet2 import PointNet2Encoder
from unibind_plugin_pointcloud.settings import PointNet2Settings
from unibind_plugin_pointcloud.simulated import SHAPES, simulated_cloud

from unibind.errors import InputError
from unibind.plugins import get_registry

pytestmark = pytest.mark.filterwarnings("ignore:pointnet2 has random weights")

SMALL = {"num_points": 256, "sa_points": (64, 16), "sa_samples": (16, 16), "width": 0.25}


def _clouds(n: int, seed: int) -> tuple[list, torch.Tensor]:
    rng = np.random.default_rng(seed)
    labels = [i % len(SHAPES) for i in range(n)]
    return [simulated_cloud(SHAPES[k], rng, 400) for k in labels], torch.tensor(labels)


def test_registered_as_trainable_with_no_weights() -> None:
    spec = get_registry().get("encoder", "pointnet2")
    assert spec.frozen is False and spec.pretrained is False and "none ship" in spec.weights
    with pytest.warns(UserWarning, match="random weights"):
        encoder = spec.build(SMALL)
    assert encoder.dim == 256 and all(p.requires_grad for p in encoder.parameters())


def test_default_architecture_gives_1024_d_and_takes_normals() -> None:
    encoder = PointNet2Encoder(PointNet2Settings(use_normals=True))
    clouds, _ = _clouds(2, 0)
    batch = encoder.collate([encoder.preprocess(c) for c in clouds])
    assert batch.shape == (2, 1024, 6)
    assert torch.allclose(batch[..., 3:].norm(dim=-1), torch.ones(2, 1024), atol=1e-4)  # the normals came along
    out = encoder.encode(clouds)
    assert out.shape == (2, 1024) and torch.isfinite(out).all()


def test_weights_round_trip_through_safetensors(tmp_path: Path) -> None:
    trained = PointNet2Encoder(PointNet2Settings(**SMALL, seed=1))
    with torch.no_grad():
        trained.sa3.mlp[0].weight.add_(0.5)  # stand-in for training: not what a fresh init gives
    path = trained.save_weights(tmp_path / "pointnet2.safetensors")
    loaded = PointNet2Encoder(PointNet2Settings(**SMALL, weights=path))
    fresh = PointNet2Encoder(PointNet2Settings(**SMALL, seed=1))
    clouds, _ = _clouds(3, 1)
    assert torch.allclose(loaded.encode(clouds), trained.encode(clouds), atol=1e-5)
    assert not torch.allclose(fresh.encode(clouds), trained.encode(clouds), atol=1e-3)


def test_weights_of_another_architecture_or_no_file_are_refused(tmp_path: Path) -> None:
    path = PointNet2Encoder(PointNet2Settings(**SMALL)).save_weights(tmp_path / "small.safetensors")
    with pytest.raises(InputError, match="another architecture: .*width=0.25 \\(settings say 0.5\\)"):
        PointNet2Encoder(PointNet2Settings(**{**SMALL, "width": 0.5}, weights=path))
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not safetensors at all")
    with pytest.raises(InputError, match="not a readable safetensors file"):
        PointNet2Encoder(PointNet2Settings(**SMALL, weights=junk))
    with pytest.raises(InputError, match="does not exist"):
        PointNet2Encoder(PointNet2Settings(**SMALL, weights=tmp_path / "missing.safetensors"))


@pytest.mark.slow
def test_it_trains_on_simulated_shapes() -> None:
    """A few Adam steps with a linear head lower the classification loss on simulated shapes."""
    torch.manual_seed(0)
    encoder = PointNet2Encoder(PointNet2Settings(**SMALL))
    head = torch.nn.Linear(encoder.dim, len(SHAPES))
    clouds, labels = _clouds(20, 2)
    batch = encoder.collate([encoder.preprocess(c) for c in clouds])
    optimiser = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=3e-3)
    encoder.train()
    losses = []
    for _ in range(12):
        loss = torch.nn.functional.cross_entropy(head(encoder(batch)), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    print(f"\npointnet2 (width 0.25) on 20 simulated clouds: loss {losses[0]:.3f} -> {losses[-1]:.3f}")
    assert losses[-1] < 0.5 * losses[0]


def test_settings_refuse_levels_that_grow() -> None:
    with pytest.raises(ValueError, match="num_points >= sa_points"):
        PointNet2Settings(num_points=128, sa_points=(512, 128))
