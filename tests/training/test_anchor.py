"""The anchor (L2-SP): a pull toward the adapters' starting weights, e.g. the text bridge."""

from __future__ import annotations

import pytest
import torch
import training_fakes as fakes
from pydantic import ValidationError

from unibind.adapters.linear import LinearAdapter, LinearAdapterSettings
from unibind.training.trainer import Anchor, TrainSettings, fit_adapters, starts_from_bridge

SETTINGS = TrainSettings(epochs=6, batch_size=32, lr=0.05, warmup_steps=2, patience=20)


def _start(seed=0):
    """Linear adapters started from a stand-in for the bridge (init='text-bridge', fixed weights)."""
    generator = torch.Generator().manual_seed(seed)
    out = {}
    for m in "ab":
        adapter = LinearAdapter(LinearAdapterSettings(init="text-bridge"), in_dim=fakes.D_IN, out_dim=fakes.D)
        adapter.set_weights(0.3 * torch.randn(fakes.D, fakes.D_IN, generator=generator), torch.zeros(fakes.D))
        out[m] = adapter
    return out


def _relative_distance(trained, start) -> float:
    moved = sum(float((p - q).pow(2).sum()) for m in start for p, q in
                zip(trained[m].parameters(), start[m].parameters()))
    norm = sum(float(q.pow(2).sum()) for m in start for q in start[m].parameters())
    return moved / norm


def _fit(weight: float, **kwargs):
    train, val, positives = fakes.synthetic()
    start, snapshot = _start(), _start()
    result = fit_adapters(start, train, val, positives, SETTINGS.model_copy(update={"anchor_weight": weight}),
                          **kwargs)
    return result, snapshot


def test_weight_zero_adds_nothing_to_the_loss():
    anchor = Anchor(torch.nn.Linear(3, 2), 0.0)
    assert anchor.params == [] and anchor.penalty() == 0.0  # the loss graph is the contrastive loss alone


def test_the_penalty_is_the_squared_distance_relative_to_the_start():
    layer = torch.nn.Linear(3, 2)
    anchor = Anchor(layer, 2.0)
    norm = sum(float(p.detach().pow(2).sum()) for p in layer.parameters())
    assert float(anchor.penalty()) == 0.0
    with torch.no_grad():
        layer.weight.add_(0.5)
    assert float(anchor.penalty()) == pytest.approx(2.0 * 6 * 0.25 / norm, rel=1e-5)
    zeros = torch.nn.Linear(3, 2)
    torch.nn.init.zeros_(zeros.weight), torch.nn.init.zeros_(zeros.bias)
    from_zero = Anchor(zeros, 1.0)   # a start of zeros: absolute distance, not a division by zero
    with torch.no_grad():
        zeros.bias.fill_(1.0)
    assert float(from_zero.penalty()) == pytest.approx(2.0)


def test_a_large_weight_keeps_the_adapters_near_their_start_and_a_small_one_lets_them_move():
    free, start = _fit(0.0)
    light, _ = _fit(1.0)
    held, _ = _fit(1000.0)
    d_free, d_light, d_held = (_relative_distance(r.adapters, start) for r in (free, light, held))
    assert d_free > d_light > d_held
    assert d_held < 0.02 * d_free, (d_free, d_held)
    # held near a start that knows nothing of the task, it cannot learn what the free adapters learn
    assert min(free.history[-1].val_accuracy.values()) > min(held.history[-1].val_accuracy.values())


def test_only_adapters_that_start_from_the_bridge_are_anchored():
    train, val, positives = fakes.synthetic()
    assert all(starts_from_bridge(a) for a in _start().values())
    assert not any(starts_from_bridge(a) for a in fakes.adapters().values())
    free = fit_adapters(fakes.adapters(), train, val, positives, SETTINGS)
    held = fit_adapters(fakes.adapters(), train, val, positives, SETTINGS.model_copy(update={"anchor_weight": 1e3}))
    for m in free.adapters:   # a random start is no place to pull back to: the weight changes nothing
        for p, q in zip(free.adapters[m].parameters(), held.adapters[m].parameters()):
            assert torch.equal(p, q)


def test_a_resumed_run_anchors_to_the_start_not_to_the_checkpoint(tmp_path):
    straight, _ = _fit(3.0)
    ckpt = tmp_path / "ckpt.safetensors"

    class Killed(Exception):
        pass

    def kill_after_3(record):
        if record.epoch == 3:
            raise Killed

    with pytest.raises(Killed):
        _fit(3.0, checkpoint=ckpt, on_epoch=kill_after_3)
    resumed, _ = _fit(3.0, checkpoint=ckpt)
    assert resumed.resumed_from == 3
    assert [r.train_loss for r in resumed.history] == pytest.approx([r.train_loss for r in straight.history],
                                                                     abs=1e-6)
    with pytest.raises(Exception, match="different run"):
        _fit(1.0, checkpoint=ckpt)   # another anchor weight is another run


def test_a_negative_weight_is_refused():
    with pytest.raises(ValidationError, match="anchor_weight"):
        TrainSettings(anchor_weight=-1)
