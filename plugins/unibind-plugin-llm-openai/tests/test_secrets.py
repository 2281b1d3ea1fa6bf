"""The API key: sent only over https (or to loopback when allowed), and never printed or stored.

The canary test runs ``unibind kb build`` as a user would (a subprocess with its own
home and cache), against the loopback server set to echo the Authorization header in
its error bodies, then greps every file the run wrote and everything it printed.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError
from unibind_cli.main import cli
from unibind_plugin_llm_openai.client import ChatClient, api_key
from unibind_plugin_llm_openai.errors import ServiceError
from unibind_plugin_llm_openai.settings import OpenAISettings

from unibind.plugins import PluginManager, reset_plugin_manager

CANARY = "sk-canary-7f3a9c1e5d2b8f60"


@pytest.fixture(autouse=True)
def _only_this_plugin():
    reset_plugin_manager(PluginManager(strict=True, enabled={"llm-openai"}).load())
    yield
    reset_plugin_manager()


def _unibind(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"),
           "UNIBIND_CACHE_DIR": str(home / "unibind-cache"), "OPENAI_API_KEY": CANARY,
           "UNIBIND_PLUGINS": "llm-openai"}
    return subprocess.run([sys.executable, "-m", "unibind_cli", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_planted_key_appears_in_no_file_and_no_output(server, tmp_path: Path) -> None:
    server.key = CANARY
    server.default = "echo_key:500"  # every reply is an error body quoting "Bearer <key>"
    kb = tmp_path / "kb.sqlite"
    echoed = _unibind(tmp_path, "kb", "build", "--kb", str(kb), "--classes", "dog,cat", "--per-class", "5",
                      "--source", f"llm-openai:base_url={server.base_url},model=fake,allow_http_key=true,"
                                  "max_retries=1,backoff_base=0.001")
    assert server.chat_requests, "the key did go to the loopback server that was allowed to have it"
    assert all(r["headers"].get("Authorization") == f"Bearer {CANARY}" for r in server.chat_requests)
    refused = _unibind(tmp_path, "kb", "build", "--kb", str(kb), "--classes", "dog",
                       "--source", f"llm-openai:model=fake,api_key={CANARY}")
    in_url = _unibind(tmp_path, "kb", "build", "--kb", str(kb), "--classes", "dog",
                      "--source", f"llm-openai:base_url=http://user:{CANARY}@127.0.0.1:9/v1,model=fake")
    printed = "".join(r.stdout + r.stderr for r in (echoed, refused, in_url))
    assert echoed.returncode == 1 and "simulated failure" in echoed.stderr  # the error is reported...
    assert refused.returncode == 1 and "takes no API key" in refused.stderr
    assert in_url.returncode == 1 and "may not hold credentials" in in_url.stderr
    assert CANARY not in printed and "Traceback" not in printed  # ... without the key
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert kb in written
    leaks = [p for p in written if CANARY.encode() in p.read_bytes()]
    assert leaks == []
    with sqlite3.connect(kb) as db:
        errors = [e for (e,) in db.execute("SELECT error FROM jobs") if e]
        settings = [s for (s,) in db.execute("SELECT settings FROM jobs")]
    assert errors and all("***" in e for e in errors)  # recorded, redacted
    assert all("user:" not in s for s in settings)


def test_the_key_goes_only_over_https_or_to_an_allowed_loopback(server, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    with pytest.raises(ValidationError, match="refusing to send the API key over plain http to example.org"):
        OpenAISettings(base_url="http://example.org/v1")
    with pytest.raises(ValidationError, match="only for a server on this machine"):
        OpenAISettings(base_url="http://192.168.1.5:8000/v1", allow_http_key=True)
    assert api_key(OpenAISettings(base_url="https://llm.example.org/v1")) == CANARY
    # A private-network or loopback server that needs no key gets none in clear, even with the variable set.
    assert api_key(OpenAISettings(base_url="http://192.168.1.5:8000/v1")) is None
    assert api_key(OpenAISettings(base_url="http://example.org/v1", require_key=False)) is None
    loopback = OpenAISettings(base_url=server.base_url, model="fake", max_retries=0)
    assert api_key(loopback) is None
    server.key = CANARY
    client = ChatClient(loopback, api_key(loopback))
    with pytest.raises(ServiceError, match="no key sent over plain http"):
        client.models()
    client.close()
    assert all("Authorization" not in r["headers"] for r in server.requests)
    allowed = loopback.model_copy(update={"allow_http_key": True})
    client = ChatClient(allowed, api_key(allowed))
    assert client.models() == ["fake"]
    client.close()


def test_the_refusal_is_one_error_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    done = CliRunner().invoke(cli, ["kb", "build", "--kb", str(tmp_path / "kb.sqlite"), "--classes", "dog",
                                    "--source", "llm-openai:base_url=http://example.org/v1,model=m"])
    lines = done.output.splitlines()
    assert done.exit_code == 1 and len(lines) == 1 and lines[0].startswith("Error: ")
    assert "refusing to send the API key over plain http to example.org" in lines[0]
    assert not (tmp_path / "kb.sqlite").exists() or CANARY.encode() not in (tmp_path / "kb.sqlite").read_bytes()


def test_html_with_status_200_keeps_nothing_and_the_build_fails(server, tmp_path: Path) -> None:
    server.default = "not_json"
    done = CliRunner().invoke(cli, ["kb", "build", "--kb", str(tmp_path / "kb.sqlite"), "--classes", "dog,cat",
                                    "--per-class", "5", "--source",
                                    f"llm-openai:base_url={server.base_url},model=fake"])
    errors = [line for line in done.output.splitlines() if line.startswith("Error:")]
    assert done.exit_code == 1, done.output
    assert len(errors) == 1 and "llm-openai kept no description for 2 class(es) (dog, cat)" in errors[0]
    assert "malformed" in errors[0] and "Traceback" not in done.output
