"""`unibind kb build` end to end with the tiny model: counts reported, a rerun resumes."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from unibind_cli.main import cli


@pytest.mark.slow
def test_kb_build_reports_kept_and_rejected_and_resumes(tiny_settings: dict, tmp_path) -> None:
    kb = tmp_path / "kb.sqlite"
    source = "llm-transformers:" + json.dumps(tiny_settings)
    args = ["kb", "build", "--kb", str(kb), "--classes", "dog", "--source", source, "--per-class", "2", "--json"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (summary,) = json.loads(result.stdout)["sources"]
    assert summary["kept"] == 2 and summary["failed"] == 0
    assert summary["generated"] == summary["kept"] + sum(summary["rejected"].values())
    with sqlite3.connect(kb) as db:
        texts = [row[0] for row in db.execute("SELECT text FROM descriptions")]
    assert len(texts) == 2 and all("dog" in t.lower() for t in texts)

    again = CliRunner().invoke(cli, args, catch_exceptions=False)
    (resumed,) = json.loads(again.stdout)["sources"]
    assert resumed["skipped"] == 1 and resumed["generated"] == summary["generated"]
