"""``unibind train --help`` says every default, and the defaults it says are the ones training uses."""

from __future__ import annotations

import re

import click
from click.testing import CliRunner

from unibind.training.pipeline import TrainConfig
from unibind.training.trainer import TrainSettings
from unibind_cli.main import cli
from unibind_cli.train import train

REQUIRED = {"--data", "--out"}


def _help_records() -> dict[str, str]:
    ctx = click.Context(train, info_name="train")
    records = {}
    for param in train.get_params(ctx):
        record = param.get_help_record(ctx)
        if isinstance(param, click.Option) and record is not None:
            records[param.opts[0]] = " ".join(record[1].split())
    return records


def test_every_option_of_train_says_its_default_in_help():
    text = " ".join(CliRunner().invoke(cli, ["train", "--help"]).output.split())
    records = _help_records()
    missing = [opt for opt, help_text in records.items()
               if opt not in REQUIRED | {"-h", "--help"} and "default:" not in help_text]  # also "[env var: ...; default: ...]"
    assert not missing, f"options whose --help names no default: {missing}"
    for opt, help_text in records.items():
        assert help_text in text  # what is checked is what the user sees
    assert "--init [MODALITY=]INIT" in text and "[default: (auto)]" in records["--init"]


def test_the_defaults_help_shows_are_the_ones_training_uses():
    records = _help_records()

    def shown(opt: str) -> str:
        return re.search(r"\[default: ([^;\]]+)", records[opt]).group(1)

    settings = TrainSettings()
    for opt, field in (("--epochs", "epochs"), ("--batch-size", "batch_size"), ("--lr", "lr"),
                       ("--temperature", "temperature"), ("--patience", "patience"), ("--seed", "seed"),
                       ("--anchor-weight", "anchor_weight")):
        assert float(shown(opt)) == float(getattr(settings, field)), opt
    config = TrainConfig.model_fields
    assert shown("--init") == f"({config['init'].default})"
    assert float(shown("--val-fraction")) == config["val_fraction"].default
    assert int(shown("--k")) == config["centres_k"].default
    assert shown("--stacking") == ("stacking" if config["stacking"].default else "no-stacking")


def test_a_value_training_would_refuse_is_refused_at_the_option(tmp_path):
    for option, value in (("--patience", "0"), ("--anchor-weight", "-1")):
        result = CliRunner().invoke(cli, ["train", "--data", str(tmp_path), "--out", str(tmp_path / "s"), option, value])
        assert result.exit_code == 2 and f"'{option}'" in result.output, result.output
        assert "TrainSettings" not in result.output and "Traceback" not in result.output


def test_a_seen_loss_budget_with_stacking_off_is_one_error_line_not_ignored(tmp_path):
    import pydantic
    import pytest

    out = tmp_path / "space"
    for off in (["--no-stacking"], [] if not TrainConfig.model_fields["stacking"].default else ["--no-stacking"]):
        result = CliRunner().invoke(cli, ["train", "--data", str(tmp_path), "--out", str(out), *off,
                                          "--stacking-max-seen-loss", "0.1"])
        assert result.exit_code == 1, result.output
        assert result.output.startswith("Error: --stacking-max-seen-loss 0.1") and result.output.count("\n") == 1
        assert "--stacking" in result.output and not out.exists()
    with pytest.raises(pydantic.ValidationError, match="stacking is off"):
        TrainConfig(data=tmp_path, out=out, stacking=False, stacking_max_seen_loss=0.05)
    assert TrainConfig(data=tmp_path, out=out, stacking=True, stacking_max_seen_loss=0.05).stacking_max_seen_loss == 0.05
