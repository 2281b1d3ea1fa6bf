"""kill -9 during an atomic write leaves a temp; a later run removes it only when it can prove it is an orphan."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from unibind.atomic import _host, atomic_open, remove_stale_temps

WRITER = textwrap.dedent("""
    import sys, time
    from unibind.atomic import atomic_path
    with atomic_path(sys.argv[1]) as tmp:
        tmp.write_bytes(b"x" * 100000)
        print("ready", flush=True)
        time.sleep(120)
""")


def start_writer(target):
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def temps(folder):
    return sorted(p.name for p in folder.rglob(".*.tmp"))


def test_only_temps_of_dead_writers_on_this_host_are_removed(tmp_path):
    (tmp_path / "sub").mkdir()
    killed = start_writer(tmp_path / "sub" / "checkpoint.safetensors")
    alive = start_writer(tmp_path / "shard.npy")
    try:
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
        elsewhere = tmp_path / f".shard.npy.{_host()}x.{killed.pid}-abc123.tmp"   # same pid, another host
        elsewhere.write_bytes(b"")
        unrelated = tmp_path / ".notes.tmp"                                     # not ours at all
        unrelated.write_bytes(b"")
        assert len(temps(tmp_path)) == 4
        removed = remove_stale_temps(tmp_path)
        assert len(removed) == 1 and removed[0].parent == tmp_path / "sub" and f".{killed.pid}-" in removed[0].name and not removed[0].exists()
        left = temps(tmp_path)
        assert elsewhere.name in left and unrelated.name in left
        assert any(f".{alive.pid}-" in name for name in left)                 # a live writer keeps its temp
        assert not (tmp_path / "sub" / "checkpoint.safetensors").exists()     # nothing half-written appeared
    finally:
        alive.kill()
        alive.wait()


def test_a_finished_write_leaves_no_temp_and_respects_nothing_else(tmp_path):
    with atomic_open(tmp_path / "a.json") as fh:
        fh.write("{}")
    assert (tmp_path / "a.json").read_text() == "{}" and temps(tmp_path) == []
    assert remove_stale_temps(tmp_path / "missing") == []
