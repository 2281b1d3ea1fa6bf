"""A NaN or infinite loss stops training with an error naming the epoch and the cause, never broken weights.

Synthetic features (``training_fakes.synthetic``) with one row poisoned by NaN provoke it; the CLI case
writes a synthetic ``.vec`` file of NaNs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
import training_fakes as fakes
from click.testing import CliRunner

from unibind.training.trainer import ModalityData, NonFiniteLossError, TrainSettings, fit_adapters

sys.path.insert(0, str(Path(__file__).parent))
from test_training_pipeline import manifest  # noqa: E402

from unibind_cli.main import cli  # noqa: E402

SETTINGS = dict(batch_size=32, lr=0.02, warmup_steps=0)


def _poisoned(data: ModalityData, row: int) -> ModalityData:
    features = data.features.clone()
    features[row, 3] = float("nan")
    return ModalityData(features, data.text_index, data.labels)


def _finite(modules) -> bool:
    return all(bool(torch.isfinite(p).all()) for a in modules.values() for p in a.parameters())


def test_a_poisoned_training_feature_stops_at_its_step_naming_the_modality_and_row(tmp_path):
    train, val, positives = fakes.synthetic()
    train["b"] = _poisoned(train["b"], 17)
    modules = fakes.adapters()
    with pytest.raises(NonFiniteLossError, match=r"epoch 1, step \d of 3: training loss is nan \(1 b feature "
                                                 r"row\(s\) hold NaN or infinite values \(rows 17\).*no epoch"):
        fit_adapters(modules, train, val, positives, TrainSettings(epochs=3, **SETTINGS),
                     checkpoint=tmp_path / "ck.safetensors")
    assert _finite(modules)          # stopped before the step that would have spread the NaN


def test_a_poisoned_validation_feature_names_the_epoch_and_the_last_finite_one_kept(tmp_path):
    train, val, positives = fakes.synthetic()
    val["a"] = _poisoned(val["a"], 5)
    with pytest.raises(NonFiniteLossError, match=r"validation after epoch 1: validation loss is nan \(1 a feature "
                                                 r"row\(s\) .*rows 5\)"):
        fit_adapters(fakes.adapters(), train, val, positives, TrainSettings(epochs=3, **SETTINGS))


def test_a_divergent_learning_rate_is_named_as_divergence():
    train, _, positives = fakes.synthetic()
    settings = TrainSettings(epochs=4, batch_size=32, lr=3e37, warmup_steps=0, clip_norm=None, weight_decay=0)
    with pytest.raises(NonFiniteLossError, match=r"epoch 1, step 2 of 3: training loss is nan \(the features are "
                                                 r"finite: training diverged; lower --lr"):
        fit_adapters(fakes.adapters(), train, {}, positives, settings)


def test_validation_too_small_to_contrast_runs_a_fixed_schedule_instead_of_a_nan_loss():
    train, val, positives = fakes.synthetic()
    tiny = {m: d.subset(torch.tensor([0])) for m, d in val.items()}     # one row: no pair to contrast
    start = {m: a.linear.weight.detach().clone() for m, a in fakes.adapters().items()}
    result = fit_adapters(fakes.adapters(), train, tiny, positives, TrainSettings(epochs=3, patience=1, **SETTINGS))
    assert [r.val_loss for r in result.history] == [None, None, None]
    assert result.best_epoch == 3 and not result.stopped_early
    assert not torch.equal(result.adapters["a"].linear.weight, start["a"])


def test_train_ends_in_one_error_line_naming_the_epoch(tmp_path, fake_registry):
    data = manifest(tmp_path)
    fakes.write_vec(tmp_path / "data" / "4.vec", [float("nan")] * fakes.DIM_IN)
    result = CliRunner().invoke(cli, ["train", "--data", str(data), "--out", str(tmp_path / "space"),
                                      "--adapter", "vec=mlp", "--epochs", "2", "--batch-size", "8",
                                      "--cache-dir", str(tmp_path / "cache"), "--threads", "1"])
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "epoch 1" in errors[0] and "NaN or infinite" in errors[0]
    assert "Traceback" not in result.output and not (tmp_path / "space" / "space.json").exists()
