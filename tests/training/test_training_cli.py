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


def test_embed_uses_a_trained_space_and_refuses_an_untrained_trainable_adapter(tmp_path, fake_registry):
    """`embed --space` embeds with the trained adapter and says so; `--adapter mlp` alone would be random weights."""
    from safetensors import safe_open

    from unibind.space import Space

    data = manifest(tmp_path)
    trained = CliRunner().invoke(cli, ["train", "--data", str(data), "--out", str(tmp_path / "space"), "--adapter",
                                       "vec=mlp", "--epochs", "2", "--batch-size", "8", "--cache-dir",
                                       str(tmp_path / "cache"), "--threads", "1"])
    assert trained.exit_code == 0, trained.output
    files = [str(tmp_path / "data" / f"{i}.vec") for i in range(3)]
    out = tmp_path / "vectors.safetensors"
    result = CliRunner().invoke(cli, ["embed", "vec", *files, "--space", str(tmp_path / "space"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"vec: encoder counting, adapter mlp (trained in {tmp_path / 'space'})" in result.stderr
    expected = Space.from_dir(tmp_path / "space").embed_files(files, "vec").vectors
    with safe_open(str(out), framework="pt") as fh:
        assert fh.metadata()["adapter"] == "mlp" and fh.metadata()["space"] == str(tmp_path / "space")
        assert (fh.get_tensor("embeddings") - expected).abs().max() < 1e-5

    untrained = CliRunner().invoke(cli, ["embed", "vec", *files, "--adapter", "mlp"])
    assert untrained.exit_code == 0 and "Warning: adapter 'mlp' is untrained here" in untrained.stderr
    both = CliRunner().invoke(cli, ["embed", "vec", *files, "--adapter", "mlp", "--space", str(tmp_path / "space")])
    assert both.exit_code == 2 and "drop --encoder/--adapter" in both.output


def test_an_unknown_init_is_one_error_line_listing_every_accepted_value_with_auto(tmp_path, fake_registry):
    data = manifest(tmp_path)
    for init in ("banana", "vec=banana"):
        result = CliRunner().invoke(cli, ["train", "--data", str(data), "--out", str(tmp_path / "space"), "--init",
                                          init, "--epochs", "1", "--cache-dir", str(tmp_path / "cache")])
        assert result.exit_code != 0
        errors = [line for line in result.output.splitlines() if line.startswith("Error")]
        assert errors == ["Error: init 'banana' (vec, adapter 'unibind:linear'): accepted values are auto, xavier, "
                          "orthogonal, zeros, text-bridge"], result.output
        assert not (tmp_path / "space").exists()
