"""The command line, driven the way a user drives it."""

from __future__ import annotations

import json
import sys
from importlib.metadata import EntryPoint

import pytest
from click.testing import CliRunner
from safetensors import safe_open

from unibind import __version__
from unibind.bench import heavy_imports_of_list_plugins
from unibind.plugins import PluginManager, reset_plugin_manager
from unibind_cli.main import cli


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_list_plugins_json_lists_builtins_only_with_all():
    reset_plugin_manager(PluginManager(enabled=set()).load([]))
    runner = CliRunner()
    without = json.loads(runner.invoke(cli, ["list-plugins", "--json"]).output)
    assert without == []
    everything = json.loads(runner.invoke(cli, ["list-plugins", "--json", "--all"]).output)
    core = everything[0]
    assert core["name"] == "unibind" and core["builtin"] and core["version"] == __version__
    assert core["registers"]["encoder"] == ["minilm", "hf-text"]
    assert set(core["registers"]) == {"modality", "encoder", "adapter", "description_source", "calibrator",
                                      "validator"}


def test_a_broken_plugin_is_reported_not_fatal(make_plugin, monkeypatch):
    monkeypatch.setitem(sys.modules, "fake_broken", make_plugin(
        "fake_broken", unibind_encoders=lambda register: 1 / 0))
    manager = PluginManager(strict=False, enabled=None).load([EntryPoint("broken", "fake_broken", "unibind")])
    reset_plugin_manager(manager)
    result = CliRunner().invoke(cli, ["list-plugins", "--json"])
    assert result.exit_code == 0
    (broken,) = json.loads(result.output)
    assert broken["status"] == "broken" and "ZeroDivisionError" in broken["error"]
    table = CliRunner().invoke(cli, ["list-plugins"], terminal_width=200)
    assert table.exit_code == 0 and "broken" in table.output
    assert "Traceback" not in table.output and "traceback" not in broken
    # the plugin's author gets where it failed, not just the one-line error
    shown = CliRunner().invoke(cli, ["list-plugins", "--traceback"])
    assert shown.exit_code == 0 and "Traceback (most recent call last)" in shown.output
    assert "1 / 0" in shown.output and "ZeroDivisionError" in shown.output
    (with_traceback,) = json.loads(CliRunner().invoke(cli, ["list-plugins", "--json", "--traceback"]).output)
    assert "ZeroDivisionError" in with_traceback["traceback"]


def test_list_plugins_imports_no_torch_or_transformers():
    probe = heavy_imports_of_list_plugins()
    assert probe["heavy"] == []
    assert probe["plugins"] >= 1


def test_embed_text_prints_and_saves(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["embed", "text", "a dog barking", "rain on a roof"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("a dog barking") and "dim  384" in lines[0]
    assert "--out" in result.stderr
    out = tmp_path / "text.safetensors"
    result = runner.invoke(cli, ["embed", "text", "one", "two", "three", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with safe_open(str(out), framework="pt") as fh:
        assert fh.get_tensor("embeddings").shape == (3, 384)
        assert json.loads(fh.metadata()["sources"]) == ["one", "two", "three"]


def test_embed_reports_an_unknown_modality_clearly():
    result = CliRunner().invoke(cli, ["embed", "smell", "x.smell"])
    assert result.exit_code != 0 and "no modality named 'smell'" in result.output


@pytest.mark.slow
def test_bench_startup_prints_a_ratio():
    result = CliRunner().invoke(cli, ["bench", "startup", "--repeat", "1"])
    assert result.exit_code == 0, result.output
    assert "ratio" in result.output and "heavy modules imported  : none" in result.output
