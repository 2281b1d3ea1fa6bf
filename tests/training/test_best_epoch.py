"""What the trainer returns is what it says: the best epoch's weights, its schedule, its stopping rule.

``test_early_stopping_keeps_the_best_epoch`` checks history indices; these check the returned
weights themselves against snapshots taken after every epoch (the adapters passed in are the
modules that train, so ``on_epoch`` can copy them).
"""

from __future__ import annotations

import math

import pytest
import torch
import training_fakes as fakes

from unibind.training.trainer import (
    FitResult,
    ModalityData,
    Positives,
    TrainSettings,
    _lr_at,
    epoch_batches,
    fit_adapters,
    steps_per_epoch,
)


def _train_with_snapshots(settings, kind="linear"):
    train, val, positives = fakes.synthetic()
    modules = fakes.adapters(kind)
    snapshots = {}

    def snapshot(record):
        snapshots[record.epoch] = {m: {k: v.detach().clone() for k, v in a.state_dict().items()}
                                   for m, a in modules.items()}

    result = fit_adapters(modules, train, val, positives, settings, on_epoch=snapshot)
    return result, snapshots


def _weights(adapters):
    return {m: {k: v.detach().clone() for k, v in a.state_dict().items()} for m, a in adapters.items()}


def _equal(a, b):
    return all(torch.equal(a[m][k], b[m][k]) for m in a for k in a[m])


def test_early_stopping_returns_the_best_epochs_weights_not_the_last():
    # a learning rate far too high: the val loss stops improving after a few epochs
    settings = TrainSettings(epochs=40, batch_size=32, lr=3.0, warmup_steps=0, patience=2, clip_norm=None,
                             learn_temperature=True, temperature=0.5)
    result, snapshots = _train_with_snapshots(settings)
    assert result.stopped_early and result.best_epoch < len(result.history)
    returned = _weights(result.adapters)
    assert _equal(returned, snapshots[result.best_epoch])
    assert not _equal(returned, snapshots[len(result.history)])
    best = result.history[result.best_epoch - 1]
    assert result.temperature == pytest.approx(best.temperature)
    assert result.temperature != pytest.approx(result.history[-1].temperature)
    assert best.val_loss == min(r.val_loss for r in result.history)


def test_without_early_stopping_the_best_epoch_is_still_the_one_returned():
    settings = TrainSettings(epochs=6, batch_size=32, lr=0.05, warmup_steps=2, patience=10)
    result, snapshots = _train_with_snapshots(settings, "mlp")
    assert not result.stopped_early and len(result.history) == 6
    best = min(range(6), key=lambda i: result.history[i].val_loss) + 1
    assert result.best_epoch == best
    assert _equal(_weights(result.adapters), snapshots[best])
    assert result.steps == 6 * 3 and result.resumed_from == 0
    assert all(not a.training for a in result.adapters.values())      # returned in eval mode


def test_patience_counts_epochs_without_an_improvement_larger_than_min_delta():
    # min_delta larger than any improvement: only epoch 1 counts as best, stop after `patience` more
    settings = TrainSettings(epochs=20, batch_size=32, lr=0.02, warmup_steps=0, patience=3, min_delta=100.0)
    result, snapshots = _train_with_snapshots(settings)
    assert result.stopped_early and len(result.history) == 4 and result.best_epoch == 1
    assert _equal(_weights(result.adapters), snapshots[1])


def test_without_validation_data_the_training_loss_picks_the_best_epoch():
    train, _, positives = fakes.synthetic()
    settings = TrainSettings(epochs=3, batch_size=32, lr=0.02, warmup_steps=0, patience=5)
    result = fit_adapters(fakes.adapters(), train, {}, positives, settings)
    assert all(r.val_loss is None and r.val_accuracy == {} for r in result.history)
    assert result.best_epoch == min(range(3), key=lambda i: result.history[i].train_loss) + 1


def test_the_learning_rate_warms_up_linearly_then_decays_by_cosine_to_a_tenth():
    s = TrainSettings(lr=1.0, warmup_steps=4)
    assert [_lr_at(i, 24, s) for i in range(4)] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert _lr_at(4, 24, s) == pytest.approx(1.0)                  # start of the decay
    assert _lr_at(14, 24, s) == pytest.approx(0.1 + 0.9 * 0.5)     # halfway: the cosine's middle
    assert _lr_at(24, 24, s) == pytest.approx(0.1)                 # the end: 10 %
    assert _lr_at(99, 24, s) == pytest.approx(0.1)                 # never below
    plain = TrainSettings(lr=2.0, warmup_steps=0)
    assert _lr_at(0, 10, plain) == pytest.approx(2.0) and _lr_at(5, 10, plain) == pytest.approx(2 * 0.55)
    # the lr recorded in the history is the one of the epoch's last step
    settings = TrainSettings(epochs=2, batch_size=32, lr=0.1, warmup_steps=2, patience=5)
    train, val, positives = fakes.synthetic()
    result = fit_adapters(fakes.adapters(), train, val, positives, settings)
    assert [r.lr for r in result.history] == pytest.approx([_lr_at(2, 6, settings), _lr_at(5, 6, settings)])


def test_batches_cover_every_row_and_a_small_modality_cycles_in_full_batches():
    assert steps_per_epoch({"a": ModalityData(torch.zeros(65, 2), torch.zeros(65).long(), torch.zeros(65).long()),
                            "b": ModalityData(torch.zeros(3, 2), torch.zeros(3).long(), torch.zeros(3).long())},
                           32) == 3
    big = epoch_batches(65, 3, 32, 0, 1, "a")
    assert [len(b) for b in big] == [32, 32, 1] and sorted(torch.cat(big).tolist()) == list(range(65))
    small = epoch_batches(5, 4, 2, 0, 1, "b")
    assert [len(b) for b in small] == [2, 2, 2, 2]
    assert sorted(torch.cat(small[:2]).tolist() + small[2][:1].tolist()) == list(range(5))  # one full pass first
    tiny = epoch_batches(3, 2, 8, 0, 1, "c")
    assert [sorted(b.tolist()) for b in tiny] == [[0, 1, 2], [0, 1, 2]]


def test_training_refuses_missing_or_mismatched_data():
    train, val, positives = fakes.synthetic()
    with pytest.raises(ValueError, match="every modality needs training rows"):
        fit_adapters(fakes.adapters(), {}, val, positives)
    with pytest.raises(ValueError, match="every modality needs training rows"):
        fit_adapters(fakes.adapters(), {**train, "b": train["b"].subset(torch.arange(0))}, val, positives)
    with pytest.raises(ValueError, match=r"adapters for \['a', 'b'\] but training data for \['a'\]"):
        fit_adapters(fakes.adapters(), {"a": train["a"]}, val, positives)
    with pytest.raises(ValueError, match="one row per sample"):
        ModalityData(torch.zeros(3, 2), torch.zeros(2).long(), torch.zeros(3).long())
    with pytest.raises(ValueError, match="need class centres"):
        Positives(torch.zeros(1, 4)).draw(torch.tensor([-1]), torch.tensor([0]), torch.Generator())


def test_fit_result_speed_and_parameter_count():
    result = FitResult({}, 1.0, [], 0, False, 0)
    assert result.epochs_per_second == math.inf
    train, val, positives = fakes.synthetic()
    trained = fit_adapters(fakes.adapters(), train, val, positives,
                           TrainSettings(epochs=1, batch_size=32, learn_temperature=True))
    assert trained.trainable_parameters == 2 * (fakes.D_IN * fakes.D + fakes.D) + 1    # + the temperature
    assert trained.epochs_per_second == pytest.approx(1 / trained.history[0].seconds)


def test_the_default_temperature_is_the_papers_none_at_all():
    from unibind.training.objective import Temperature

    default = Temperature()
    assert default.value == 1.0 and float(default.scale()) == 1.0   # the paper: no temperature, tau = 1
    assert TrainSettings().temperature == 1.0 and not TrainSettings().learn_temperature


def test_the_run_id_does_not_depend_on_dict_order():
    from unibind.training.objective import Temperature
    from unibind.training.trainer import AdapterBundle, _run_id

    train, val, _ = fakes.synthetic()
    made = fakes.adapters()
    settings = TrainSettings()
    one = _run_id(settings, train, val, AdapterBundle(made, Temperature()))
    flipped = _run_id(settings, dict(reversed(train.items())), dict(reversed(val.items())),
                      AdapterBundle(dict(reversed(made.items())), Temperature()))
    assert one == flipped
    assert one != _run_id(settings.model_copy(update={"lr": 0.5}), train, val, AdapterBundle(made, Temperature()))


def test_a_run_that_stopped_early_stays_stopped_when_resumed(tmp_path):
    train, val, positives = fakes.synthetic()
    settings = TrainSettings(epochs=40, batch_size=32, lr=3.0, warmup_steps=0, patience=2, clip_norm=None)
    ckpt = tmp_path / "ckpt.safetensors"
    first = fit_adapters(fakes.adapters(), train, val, positives, settings, checkpoint=ckpt)
    assert first.stopped_early
    again = fit_adapters(fakes.adapters(), train, val, positives, settings, checkpoint=ckpt)
    assert again.stopped_early and len(again.history) == len(first.history)
    assert again.resumed_from == len(first.history) and again.best_epoch == first.best_epoch


def test_a_subset_of_lazily_indexed_features_reads_the_right_rows():
    class Rows:                                  # like CachedRows: indexable by a LongTensor, not a tensor
        def __init__(self, data):
            self.data = data

        def __len__(self):
            return len(self.data)

        def __getitem__(self, index):
            return self.data[index]

    data = ModalityData(Rows(torch.arange(10.0)[:, None]), torch.arange(10), torch.zeros(10).long())
    part = data.subset(torch.tensor([7, 2, 5]))
    assert len(part) == 3 and part.text_index.tolist() == [7, 2, 5]
    assert part.features[torch.tensor([2, 0])].flatten().tolist() == [5.0, 7.0]
