"""Two `kb build` processes into one knowledge base at once: every class ends at the per-class target."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

PLUGIN = '''
import os, time
from pathlib import Path
from unibind import hookimpl
from unibind.knowledge.records import DescriptionDraft
from unibind.specs import DescriptionSourceSpec


class PidSource:
    """Like an LLM: different texts in every process; waits for GO before yielding anything."""

    model = "pid-v1"

    def describe(self, cls, n, *, modality=None, seed=0, start=0):
        Path(os.environ["RACE_DIR"], f"started-{os.getpid()}-{cls.name}").touch()
        while not Path(os.environ["RACE_DIR"], "GO").exists():
            time.sleep(0.02)
        for i in range(start, 20):
            yield DescriptionDraft(text=f"{cls.name} description {i} written by process {os.getpid()}")


@hookimpl
def unibind_description_sources(register):
    register(DescriptionSourceSpec(name="pid-source", factory="racefake_plugin:PidSource",
                                   summary="a source whose texts differ per process (tests)"))
'''
PER_CLASS = 6
CLASSES = ("dog", "cat", "cow")


def plugin_env(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "racefake_plugin.py").write_text(PLUGIN)
    dist = site / "racefake-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: racefake\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[unibind]\nracefake = racefake_plugin\n")
    env = dict(os.environ, RACE_DIR=str(tmp_path), UNIBIND_PLUGINS="racefake")
    env["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [env.get("PYTHONPATH")])])
    return env


def build(path, env) -> subprocess.Popen:
    args = [sys.executable, "-c", "import sys; from unibind_cli.kb import kb; kb(sys.argv[1:])", "build",
            "--kb", str(path), "--classes", ",".join(CLASSES), "--source", "pid-source",
            "--per-class", str(PER_CLASS), "--commit-every", "2"]
    return subprocess.Popen(args, env=env, cwd=env["RACE_DIR"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def per_class(path) -> dict[str, int]:
    db = sqlite3.connect(str(path))
    try:
        return dict(db.execute("SELECT c.name, COUNT(*) FROM descriptions d JOIN classes c ON c.key = d.class_key"
                               " GROUP BY c.name").fetchall())
    finally:
        db.close()


def test_concurrent_builds_respect_the_per_class_target_and_the_loser_says_why(tmp_path):
    env = plugin_env(tmp_path)
    path = tmp_path / "kb.sqlite"
    procs = [build(path, env), build(path, env)]
    deadline = time.monotonic() + 90
    while len(list(tmp_path.glob("started-*"))) < 2:     # both are inside a job, neither has written yet
        if any(p.poll() is not None for p in procs):   # one ended before starting: show why, hang on nothing
            for p in procs:
                p.kill()
            raise AssertionError([p.communicate() for p in procs])
        assert time.monotonic() < deadline, "the builds never started"
        time.sleep(0.05)
    started = sorted(p.name for p in tmp_path.glob("started-*"))
    (tmp_path / "GO").touch()
    results = [p.communicate(timeout=90) for p in procs]
    codes = [p.returncode for p in procs]
    assert per_class(path) == dict.fromkeys(CLASSES, PER_CLASS)             # never 2 x the target
    assert len({name.rsplit("-", 1)[1] for name in started}) == 2, started   # two different classes at once
    refused = [err for (_, err), code in zip(results, codes) if code != 0]
    assert len(refused) >= 1 and all("being built by another `kb build`" in err for err in refused), results
    again = build(path, env)
    _, err = again.communicate(timeout=90)
    assert again.returncode == 0, err
    assert per_class(path) == dict.fromkeys(CLASSES, PER_CLASS)
