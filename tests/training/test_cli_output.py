"""What the terminal shows (issue 15): calibration status, whole runners-up, available classes, embed summary."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from test_training_pipeline import manifest

from unibind.training.pipeline import TrainConfig, train_space
from unibind.training.trainer import TrainSettings
from unibind_cli.main import cli


@pytest.fixture
def space_dir(tmp_path, fake_registry):
    config = TrainConfig(data=manifest(tmp_path), out=tmp_path / "space", cache_dir=tmp_path / "features",
                         train=TrainSettings(epochs=2, batch_size=8, warmup_steps=1), progress=False)
    return train_space(config, registry=fake_registry).space_dir


def test_classify_says_its_probabilities_are_uncalibrated_and_keeps_runner_up_pairs_whole(tmp_path, space_dir):
    files = [str(tmp_path / "data" / f"{i}.vec") for i in range(3)]
    result = CliRunner().invoke(cli, ["classify", "--space", str(space_dir), *files], terminal_width=80)
    assert result.exit_code == 0, result.output
    assert "probabilities: uncalibrated for vec" in result.stderr
    assert f"unibind calibrate fit DATA --space {space_dir} --modality vec" in result.stderr
    table = result.stdout
    assert max(len(line) for line in table.splitlines()) <= 80
    # every runner-up label sits on the same line as its probability
    assert re.search(r"\b(dog|cat|bird)\s*[│|]?\s*$", table, re.M) is None
    assert len(re.findall(r"(dog|cat|bird)\s0\.\d\d", table)) == 6


def test_a_class_the_space_lacks_is_built_now_and_a_likely_typo_is_named(tmp_path, space_dir):
    """A class outside the saved centres is a new class (tests/training/test_unseen_classes.py), not an error;
    one that looks like a misspelt saved class says which."""
    result = CliRunner().invoke(cli, ["classify", "--space", str(space_dir), "--labels", "dgo,cat",
                                      str(tmp_path / "data" / "0.vec")])
    assert result.exit_code == 0, result.output
    assert "classes built now (not among the space's saved centres): dgo" in result.stderr
    assert "'dgo' is not a saved class: did you mean dog?" in result.stderr


def test_embed_prints_an_aligned_summary_and_mentions_out(tmp_path, fake_registry):
    manifest(tmp_path)
    files = [str(tmp_path / "data" / f"{i}.vec") for i in (0, 1, 12)]
    result = CliRunner().invoke(cli, ["embed", "vec", *files, "--adapter", "linear"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and len({line.index("dim") for line in lines}) == 1  # aligned columns
    assert all(re.search(r"dim +\d+  norm \d\.\d{3}  \[[-+]\d\.\d{3}( [-+]\d\.\d{3}){3} \.\.\.\]$", line)
               for line in lines)
    assert "--out" in result.stderr
