"""`unibind kb build --source wordnet` end to end into a temporary knowledge base, and `unibind wordnet`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner


@pytest.mark.slow  # the first test to load WordNet (seconds of parsing) when run alone
def test_kb_build_with_wordnet_end_to_end(tmp_path: Path) -> None:
    from unibind.knowledge.store import KnowledgeBase
    from unibind_cli.main import cli

    kb = tmp_path / "kb.sqlite"
    runner = CliRunner()
    result = runner.invoke(cli, ["kb", "build", "--kb", str(kb), "--classes", "dog,cat,xyzzy plugh",
                                 "--source", "wordnet", "--per-class", "20"])
    assert result.exit_code == 1, result.output  # a class asked for got nothing: said, and not a success
    assert "Error: wordnet kept no description for 1 class(es) (xyzzy plugh)" in result.output
    assert "wordnet" in result.output and "WordNet 3.0" in result.output
    assert "rejected by wordnet: unresolved 1" in result.output

    with KnowledgeBase(kb) as store:
        records = store.descriptions(store.find_classes("dog") + store.find_classes("cat"))
    by_class = {name: [d for d in records if d.class_name == name] for name in ("dog", "cat")}
    assert all(len(texts) == 20 for texts in by_class.values())
    cat = by_class["cat"]
    assert (cat[0].meta["synset"], cat[0].meta["rule"]) == ("cat.n.01", "physical")  # cat has 8 noun senses
    assert all(d.provenance.source == "wordnet" and d.provenance.model == "WordNet 3.0" for d in records)
    assert all(d.provenance.plugin == "wordnet" for d in records)

    stats = runner.invoke(cli, ["kb", "stats", "--kb", str(kb), "--json"])
    assert stats.exit_code == 0, stats.output
    figures = json.loads(stats.output)
    assert figures["descriptions"] == 40 and figures["rejected"] == {"unresolved": 1}
    text = runner.invoke(cli, ["kb", "stats", "--kb", str(kb)]).output
    assert "40 class descriptions" in text and "rejected: unresolved 1" in text

    again = runner.invoke(cli, ["kb", "build", "--kb", str(kb), "--classes", "dog,cat",
                                "--source", "wordnet", "--per-class", "20", "--json"])
    summary = json.loads(again.output)["sources"][0]
    assert summary["skipped"] == 2 and summary["kept"] == 40, "a rerun redoes nothing"


def test_plugin_adds_the_wordnet_command() -> None:
    import click

    from unibind.plugins import PluginManager

    group = click.Group("unibind")
    PluginManager(strict=True, enabled={"wordnet"}).load().add_commands(group)
    assert set(group.commands["wordnet"].commands) == {"resolve", "describe"}


def test_wordnet_resolve_command_prints_rule_and_candidates() -> None:
    from unibind_plugin_wordnet.cli import wordnet as cli

    result = CliRunner().invoke(cli, ["resolve", "crane", "n02084071", "Ankle boot"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("crane -> crane.n.04 (n03126707) by imagenet-1k among 5 senses")
    assert lines[1] == "n02084071 -> dog.n.01 (n02084071) by id"
    assert "head noun 'boot'" in lines[2]

    fixed = CliRunner().invoke(cli, ["resolve", "crane", "--sense", "crane=crane.n.05", "--json"])
    record = json.loads(fixed.output)
    assert (record["synset"], record["rule"], record["ambiguous"]) == ("crane.n.05", "override", False)

    missing = CliRunner().invoke(cli, ["resolve", "xyzzy"])
    assert missing.exit_code == 1 and "unresolved" in missing.output


def test_wordnet_describe_command(tmp_path: Path) -> None:
    from unibind_plugin_wordnet.cli import wordnet as cli

    result = CliRunner().invoke(cli, ["describe", "Sandal", "--limit", "3"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Sandal -> sandal.n.01") and len(lines) == 4
    assert lines[1] == "  [gloss] A sandal is a shoe consisting of a sole fastened by straps to the foot."
    bad = CliRunner().invoke(cli, ["describe", "dog", "--wordnet-dir", str(tmp_path / "none")])
    assert bad.exit_code != 0 and "wordnet-base" in bad.output
