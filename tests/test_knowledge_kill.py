"""A real `kb build` process killed with SIGKILL mid-build, then rerun: nothing lost, nothing duplicated."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from unibind.knowledge.store import KnowledgeBase

PLUGIN = '''
from unibind import hookimpl
from unibind.specs import DescriptionSourceSpec


@hookimpl
def unibind_description_sources(register):
    register(DescriptionSourceSpec(name="slow-scripted", factory="unibind.knowledge.testing:ScriptedSource",
                                   settings="unibind.knowledge.testing:ScriptedSettings",
                                   summary="a slow deterministic source (tests)"))
'''

CLASSES = "n02084071 dog,cat,cow,horse,sheep"
SOURCE = "slow-scripted:delay=0.006,items=40"


@pytest.fixture
def plugin_env(tmp_path):
    """A plugin installed on the fly: a module plus a dist-info with an entry point, on PYTHONPATH."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "killfake_plugin.py").write_text(PLUGIN)
    dist = site / "killfake-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: killfake\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[unibind]\nkillfake = killfake_plugin\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [env.get("PYTHONPATH")])])
    env["UNIBIND_PLUGINS"] = "killfake"
    return env


def _build(path, env) -> subprocess.Popen:
    args = [sys.executable, "-c", "import sys; from unibind_cli.kb import kb; kb(sys.argv[1:])",
            "build", "--kb", str(path), "--classes", CLASSES, "--source", SOURCE, "--source", "templates",
            "--per-class", "30", "--commit-every", "3"]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _count(path) -> int:
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return db.execute("SELECT COUNT(*) FROM descriptions").fetchone()[0]
    except sqlite3.OperationalError:  # schema not created yet
        return 0
    finally:
        db.close()


def _kill_when(proc: subprocess.Popen, path, at_least: int) -> int:
    deadline = time.monotonic() + 60
    while _count(path) < at_least:
        assert proc.poll() is None, f"build finished before it could be killed: {proc.communicate()}"
        assert time.monotonic() < deadline, "build made no progress"
        time.sleep(0.005)
    time.sleep(0.013)  # land somewhere inside a commit interval, not right on a commit
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return _count(path)


def _content(path):
    with KnowledgeBase(path, create=False) as kb:
        texts = [(d.id, d.class_name, d.class_id, d.text, d.modality, json.dumps(d.meta),
                  d.provenance.model_dump(exclude={"created_at"})) for d in kb.descriptions()]
        jobs = [j.model_dump(exclude={"updated_at"}) for j in kb.jobs()]
    return texts, jobs


@pytest.mark.slow
def test_killed_build_resumes_to_exactly_the_uninterrupted_result(tmp_path, plugin_env):
    reference = _build(tmp_path / "reference.sqlite", plugin_env)   # runs alongside, never interrupted
    path = tmp_path / "kb.sqlite"
    first = _kill_when(_build(path, plugin_env), path, at_least=12)
    second = _kill_when(_build(path, plugin_env), path, at_least=first + 35)
    done = _build(path, plugin_env)
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0, err
    _, err_ref = reference.communicate(timeout=120)
    assert reference.returncode == 0, err_ref
    texts, jobs = _content(path)
    ref_texts, ref_jobs = _content(tmp_path / "reference.sqlite")
    print(f"killed at {first} and {second} stored texts; final {len(texts)} (uninterrupted {len(ref_texts)})")
    print(out)
    assert 0 < first < second < len(texts)
    assert texts == ref_texts                     # same rows, same order, same provenance: nothing lost
    assert len({(t[1], t[3].casefold()) for t in texts}) == len(texts)   # nothing duplicated
    assert jobs == ref_jobs                       # and the same generated/kept/rejected counts
    assert "skipped" in out and "slow-scripted" in out
    summary = next(line for line in out.splitlines() if line.startswith("slow-scripted")).split()
    assert int(summary[3]) > 0                    # the final run skipped jobs finished before the kills
