"""Contrastive objective and trainer on synthetic features (clusters with known text prototypes)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
import training_fakes as fakes

from unibind.training.objective import Temperature, contrastive_loss
from unibind.training.trainer import (
    ModalityData,
    Positives,
    TrainSettings,
    epoch_batches,
    fit_adapters,
    steps_per_epoch,
)

CLASSES, D_IN, D = fakes.CLASSES, fakes.D_IN, fakes.D
synthetic, adapters = fakes.synthetic, fakes.adapters


def test_loss_is_equation_6_and_duplicates_are_not_negatives():
    gen = torch.Generator().manual_seed(1)
    v, z = torch.randn(4, 5, generator=gen), torch.randn(4, 5, generator=gen)
    s = F.normalize(v, dim=-1) @ F.normalize(z, dim=-1).T
    by_hand = -torch.stack([s[i, i] - torch.logsumexp(s[i], 0) for i in range(4)]).mean()
    assert torch.allclose(contrastive_loss(v, z, torch.arange(4)), by_hand, atol=1e-6)
    # rows 0 and 2 share a positive: neither is pushed from the other's text
    z[2] = z[0]
    groups = torch.tensor([7, 1, 7, 3])
    s = F.normalize(v, dim=-1) @ F.normalize(z, dim=-1).T
    keep = [[0, 1, 3], [0, 1, 2, 3], [1, 2, 3], [0, 1, 2, 3]]
    masked = -torch.stack([s[i, i] - torch.logsumexp(s[i, keep[i]], 0) for i in range(4)]).mean()
    assert torch.allclose(contrastive_loss(v, z, groups), masked, atol=1e-6)
    assert not torch.allclose(contrastive_loss(v, z, torch.arange(4)), masked)
    sym = contrastive_loss(v, z, groups, symmetric=True, scale=10.0)
    one = contrastive_loss(v, z, groups, scale=10.0)
    back = contrastive_loss(z, v, groups, scale=10.0)
    assert torch.allclose(sym, (one + back) / 2, atol=1e-5)


def test_temperature_fixed_is_a_buffer_learned_is_a_parameter():
    fixed, learned = Temperature(1.0), Temperature(0.07, learn=True)
    assert list(fixed.parameters()) == [] and fixed.value == pytest.approx(1.0)
    assert len(list(learned.parameters())) == 1 and learned.value == pytest.approx(0.07)
    assert Temperature(0.001).scale() == pytest.approx(100.0)  # clamped like CLIP


def test_balanced_sampling_cycles_the_small_modality_every_step():
    train, _, _ = synthetic()
    steps = steps_per_epoch(train, 32)
    assert steps == 3
    big = epoch_batches(96, steps, 32, 0, 1, "a")
    small = epoch_batches(24, steps, 32, 0, 1, "b")
    assert sorted(torch.cat(big).tolist()) == list(range(96))  # the big one: one pass
    assert [len(b) for b in small] == [24, 24, 24] and all(sorted(b.tolist()) == list(range(24)) for b in small)
    assert torch.equal(torch.cat(big), torch.cat(epoch_batches(96, steps, 32, 0, 1, "a")))  # seeded
    assert not torch.equal(torch.cat(big), torch.cat(epoch_batches(96, steps, 32, 0, 2, "a")))


def test_training_aligns_both_modalities_and_only_adapters_train():
    train, val, positives = synthetic()
    settings = TrainSettings(epochs=12, batch_size=32, lr=0.02, warmup_steps=3, patience=20)
    before = fit_adapters(adapters(), train, val, positives, settings.model_copy(update={"epochs": 1, "lr": 1e-9}))
    result = fit_adapters(adapters(), train, val, positives, settings)
    last = result.history[-1]
    assert last.val_loss < before.history[0].val_loss - 0.05
    assert min(last.val_accuracy.values()) >= 0.75, last.val_accuracy  # chance is 0.25
    assert result.trainable_parameters == 2 * (D_IN * D + D)
    assert result.temperature == pytest.approx(1.0)


def test_learned_temperature_moves_and_training_is_reproducible():
    train, val, positives = synthetic()
    settings = TrainSettings(epochs=4, batch_size=32, lr=0.02, learn_temperature=True, temperature=0.5)
    one = fit_adapters(adapters("mlp"), train, val, positives, settings)
    two = fit_adapters(adapters("mlp"), train, val, positives, settings)
    assert one.temperature != pytest.approx(0.5)
    assert [r.train_loss for r in one.history] == [r.train_loss for r in two.history]
    for m in "ab":
        for p, q in zip(one.adapters[m].parameters(), two.adapters[m].parameters()):
            assert torch.equal(p, q)


def test_early_stopping_keeps_the_best_epoch():
    train, val, positives = synthetic()
    # a learning rate far too high: val loss stops improving, training stops and restores the best
    settings = TrainSettings(epochs=40, batch_size=32, lr=3.0, warmup_steps=0, patience=2, clip_norm=None)
    result = fit_adapters(adapters(), train, val, positives, settings)
    assert result.stopped_early and len(result.history) < 40
    assert len(result.history) == result.best_epoch + 2
    best = min(r.val_loss for r in result.history)
    assert result.history[result.best_epoch - 1].val_loss == best


def test_a_run_resumed_from_its_checkpoint_ends_where_an_uninterrupted_one_does(tmp_path):
    train, val, positives = synthetic()
    settings = TrainSettings(epochs=5, batch_size=32, lr=0.02, warmup_steps=4, patience=20)
    straight = fit_adapters(adapters("mlp"), train, val, positives, settings)
    ckpt = tmp_path / "ckpt.safetensors"

    class Killed(Exception):
        pass

    def kill_after_3(record):
        if record.epoch == 3:
            raise Killed

    with pytest.raises(Killed):
        fit_adapters(adapters("mlp"), train, val, positives, settings, checkpoint=ckpt, on_epoch=kill_after_3)
    resumed = fit_adapters(adapters("mlp", seed=9), train, val, positives, settings, checkpoint=ckpt)
    assert resumed.resumed_from == 3 and len(resumed.history) == 5
    assert [r.train_loss for r in resumed.history] == pytest.approx([r.train_loss for r in straight.history],
                                                                     abs=1e-6)
    for m in "ab":
        for p, q in zip(resumed.adapters[m].parameters(), straight.adapters[m].parameters()):
            assert torch.allclose(p, q, atol=1e-6)
    with pytest.raises(Exception, match="different run"):
        fit_adapters(adapters("mlp"), train, val, positives, settings.model_copy(update={"lr": 0.5}),
                     checkpoint=ckpt)


def test_rows_without_description_or_label_are_refused():
    with pytest.raises(ValueError, match="neither a description nor a label"):
        ModalityData(torch.zeros(2, 3), torch.tensor([0, -1]), torch.tensor([-1, -1]))


def test_described_rows_use_their_own_text_and_class_rows_draw_from_real_centre_slots():
    texts = F.normalize(torch.randn(3, D), dim=-1)
    centres = F.normalize(torch.randn(2, 4, D), dim=-1)
    mask = torch.tensor([[True, True, True, True], [True, True, False, False]])
    centres[1, 2:] = centres[1, 0]
    positives = Positives(texts, centres, mask)
    out, groups = positives.draw(torch.tensor([2, -1, -1, 0]), torch.tensor([0, 1, 1, -1]),
                                 torch.Generator().manual_seed(0))
    assert torch.equal(out[0], texts[2]) and torch.equal(out[3], texts[0])
    assert groups.tolist() == [2, 3 + 1, 3 + 1, 0]
    for row in (1, 2):
        assert any(torch.equal(out[row], centres[1, k]) for k in range(2))
    assert math.isfinite(float(contrastive_loss(torch.randn(4, D), out, groups)))


def test_without_validation_every_epoch_runs_and_the_last_weights_are_returned():
    train, _, positives = synthetic()
    # the same too-high rate that stops early with a val set: without one, nothing may stop on the train loss
    settings = TrainSettings(epochs=6, batch_size=32, lr=3.0, warmup_steps=0, patience=1, clip_norm=None)
    result = fit_adapters(adapters(), train, {}, positives, settings)
    assert not result.stopped_early and len(result.history) == 6 and result.best_epoch == 6
    again = fit_adapters(adapters(), train, {}, positives, settings.model_copy(update={"epochs": 6}))
    for m in result.adapters:
        for p, q in zip(result.adapters[m].parameters(), again.adapters[m].parameters()):
            assert torch.equal(p, q)


def test_split_holds_out_nothing_when_a_class_is_too_small_to_validate():
    from unibind.training.data import Item, split_instances

    def items(per_class):
        return [Item(path=f"{c}{i}.png", label=c, modality="image") for c, n in per_class.items() for i in range(n)]

    few = items({"a": 5, "b": 6, "c": 11})             # 22 items: 0.2 gives a and b a single val item each
    train, val = split_instances(few, 0.2, 0, min_val_per_class=3)
    assert val == set() and len(train) == 22
    many = items({"a": 15, "b": 20})
    train, val = split_instances(many, 0.2, 0, min_val_per_class=3)
    assert len(val) == 7 and len(train) == 28 and not train & val


def test_the_class_size_the_no_validation_message_names_is_the_one_the_split_needs():
    from unibind.training.data import Item, smallest_validated_class, split_instances

    for fraction, least in ((0.2, 2), (0.2, 3), (0.5, 2), (0.1, 1), (0.3, 4)):
        needed = smallest_validated_class(fraction, least)
        for n, validates in ((needed - 1, False), (needed, True)):
            items = [Item(path=f"{c}{i}.png", label=c, modality="image") for c in "ab" for i in range(n)]
            _, val = split_instances(items, fraction, 0, min_val_per_class=least)
            assert bool(val) is validates, (fraction, least, n)
