"""``unibind train`` on the synthetic modality."""

from __future__ import annotations

import json

from click.testing import CliRunner
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from test_training_pipeline import manifest  # noqa: E402

from unibind_cli.main import cli  # noqa: E402


def test_train_command_writes_a_space_and_reports_parameters(tmp_path, fake_registry):
    data = manifest(tmp_path)
    args = ["train", "--data", str(data), "--out", str(tmp_path / "space"), "--adapter", "vec=mlp",
            "--epochs", "3", "--batch-size", "8", "--lr", "0.02", "--cache-dir", str(tmp_path / "cache"),
            "--learn-temperature", "--temperature", "0.2", "--threads", "1"]
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["epochs"] == 3 and summary["encoded"] == {"vec": 30}
    assert summary["parameters"]["trainable"] > 0 and summary["temperature"] != 0.2
    assert len(summary["skipped"]) == 3
    assert (tmp_path / "space" / "space.json").is_file()
    text = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "space2")])
    assert text.exit_code == 0 and "trainable" in text.stdout and "epoch   3" in text.stderr
    bad = CliRunner().invoke(cli, [*args, "--adapter", "mlp"])
    assert bad.exit_code != 0 and "MODALITY=NAME" in bad.output
    missing = CliRunner().invoke(cli, ["train", "--data", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path)])
    assert missing.exit_code != 0 and "nope.jsonl" in missing.output
