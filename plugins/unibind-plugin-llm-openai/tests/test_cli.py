"""``unibind kb build --source llm-openai:...`` end to end against the loopback server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from unibind.knowledge.records import ClassRef
from unibind.knowledge.store import KnowledgeBase
from unibind.plugins import PluginManager, reset_plugin_manager
from unibind_cli.main import cli


@pytest.fixture(autouse=True)
def _only_this_plugin():
    reset_plugin_manager(PluginManager(strict=True, enabled={"llm-openai"}).load())
    yield
    reset_plugin_manager()


def _build(kb: Path, source: str, *extra: str):
    args = ["kb", "build", "--kb", str(kb), "--classes", "dog,cat", "--source", source, "--per-class", "5"]
    return CliRunner().invoke(cli, [*args, *extra])


def test_kb_build_reports_kept_and_rejected(server, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-never-stored")
    server.key = "sk-secret-never-stored"
    server.script.extend(["junk", "ok", "ok"])  # the first request of "dog" writes three rejected texts
    kb = tmp_path / "kb.sqlite"
    done = _build(kb, f"llm-openai:base_url={server.base_url},model=fake,backoff_base=0.001,allow_http_key=true")
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()   # per-class progress lines go to stderr
    row = next(line for line in lines if line.startswith("llm-openai"))
    assert row.split()[1:] == ["fake", "2", "0", "0"] + row.split()[5:]
    generated, kept, rejected = map(int, row.split()[5:8])
    assert kept == 10 and rejected == generated - kept and rejected >= 3
    assert any(line.startswith("rejected by llm-openai:") and "off_class 1" in line
               and "not_english 1" in line for line in lines)
    with KnowledgeBase(kb) as store:
        texts = store.descriptions([ClassRef(name="dog")])
        assert len(texts) == 5 and all("dog" in d.text.lower() for d in texts)
        assert texts[0].provenance.source == "llm-openai" and texts[0].provenance.model == "fake"
        assert texts[0].provenance.plugin == "llm-openai"
    assert b"sk-secret-never-stored" not in kb.read_bytes()


def test_budget_exhaustion_is_recorded_and_a_rerun_resumes(server, tmp_path: Path) -> None:
    kb = tmp_path / "kb.sqlite"
    source = f"llm-openai:base_url={server.base_url},model=fake,descriptions_per_request=2,max_requests=2"
    first = _build(kb, source, "--json")
    assert first.exit_code == 1
    report = json.loads(first.stdout[: first.stdout.rindex("}") + 1])["sources"][0]
    assert report["kept"] == 4 and report["failed"] == 2  # dog: 2 requests, then dog and cat hit the budget
    assert all("request budget is used up" in e for e in report["errors"])
    # The budget is not part of the job key: a bigger one continues the same jobs.
    again = _build(kb, source.replace("max_requests=2", "max_requests=20"), "--json")
    assert again.exit_code == 0, again.output
    report = json.loads(again.stdout)["sources"][0]
    assert report["kept"] == 10 and report["failed"] == 0
    with KnowledgeBase(kb) as store:
        for name in ("dog", "cat"):
            assert len(store.descriptions([ClassRef(name=name)])) == 5


def test_missing_key_for_a_remote_server_is_reported(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    done = _build(tmp_path / "kb.sqlite", "llm-openai:model=gpt-4o-mini")
    assert done.exit_code == 1
    assert "cannot build the source" in done.output and "OPENAI_API_KEY" in done.output


def test_models_command_lists_the_servers_models(server, monkeypatch) -> None:
    import click

    group = click.Group()
    PluginManager(strict=True, enabled={"llm-openai"}).load().add_commands(group)
    monkeypatch.setenv("FAKE_KEY", "sk-abc")
    server.key = "sk-abc"
    done = CliRunner().invoke(group, ["llm-openai", "models", "--base-url", server.base_url,
                                      "--api-key-env", "FAKE_KEY", "--allow-http-key"])
    assert done.exit_code == 0, done.output
    assert done.output.split() == ["fake"]
    monkeypatch.setenv("FAKE_KEY", "sk-wrong")
    refused = CliRunner().invoke(group, ["llm-openai", "models", "--base-url", server.base_url,
                                         "--api-key-env", "FAKE_KEY", "--allow-http-key"])
    assert refused.exit_code == 1 and "HTTP 401" in refused.output
