"""Temperature scaling, adapters on disk, atomic writes."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from unibind.adapters.base import IdentityAdapter
from unibind.adapters.linear import LinearAdapter, LinearAdapterSettings
from unibind.atomic import atomic_open, save_tensors
from unibind.calibration.temperature import TemperatureScaler, TemperatureSettings
from unibind.errors import InputError


@pytest.mark.parametrize("start", [0.05, 1.0, 20.0])
def test_temperature_scaling_recovers_the_true_temperature_from_any_start(start):
    generator = torch.Generator().manual_seed(0)
    true_t = 2.5
    logits = torch.randn(4000, 10, generator=generator) * 4
    labels = torch.multinomial(torch.softmax(logits / true_t, -1), 1, generator=generator).squeeze(1)
    scaler = TemperatureScaler(TemperatureSettings(temperature=start)).fit(logits, labels)
    assert scaler.temperature == pytest.approx(true_t, rel=0.08)
    probs = scaler(logits)
    assert torch.allclose(probs.sum(-1), torch.ones(4000))
    restored = TemperatureScaler()
    restored.load_state_dict(scaler.state_dict())
    assert restored.temperature == pytest.approx(scaler.temperature)


def test_linear_adapter_round_trips_through_safetensors(tmp_path):
    adapter = LinearAdapter(LinearAdapterSettings(seed=3), in_dim=16, out_dim=8)
    path = adapter.save(tmp_path / "a.safetensors", encoder="efficientnet-lite0")
    other = LinearAdapter(LinearAdapterSettings(seed=4), in_dim=16, out_dim=8)
    assert not torch.equal(other.linear.weight, adapter.linear.weight)
    meta = other.load_weights(path, expect={"encoder": "efficientnet-lite0", "in_dim": 16})
    assert torch.equal(other.linear.weight, adapter.linear.weight)
    assert meta["settings"]["seed"] == 3
    with pytest.raises(InputError, match="saved for encoder='efficientnet-lite0', not 'resnet'"):
        other.load_weights(path, expect={"encoder": "resnet"})


def test_linear_adapter_initialisations_are_seeded_and_distinct():
    a = LinearAdapter(LinearAdapterSettings(init="orthogonal", seed=1), in_dim=12, out_dim=6)
    b = LinearAdapter(LinearAdapterSettings(init="orthogonal", seed=1), in_dim=12, out_dim=6)
    assert torch.equal(a.linear.weight, b.linear.weight)
    w = a.linear.weight
    assert torch.allclose(w @ w.T, torch.eye(6), atol=1e-5)
    z = LinearAdapter(LinearAdapterSettings(init="zeros"), in_dim=4, out_dim=3)
    assert z(torch.ones(2, 4)).abs().sum() == 0
    assert torch.equal(IdentityAdapter(in_dim=5)(torch.ones(2, 5)), torch.ones(2, 5))


def test_adapter_load_rejects_a_file_that_is_not_safetensors(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x80\x04 pickle pretending")
    with pytest.raises(InputError, match="bad.safetensors"):
        LinearAdapter(in_dim=2, out_dim=2).load_weights(bad)


def test_atomic_writes_leave_the_old_file_when_interrupted(tmp_path):
    target = tmp_path / "kb.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_open(target) as fh:
            fh.write("half of the new")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["kb.json"]
    save_tensors({"x": torch.arange(3)}, tmp_path / "t.safetensors", metadata={"k": "v"})
    assert load_file(tmp_path / "t.safetensors")["x"].tolist() == [0, 1, 2]
