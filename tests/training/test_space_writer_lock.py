"""One writer per space folder: a second train or calibrate fit into it fails at once, in one line.

Synthetic ``.vec`` files and the hashing text encoder (no model; simulated).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest
import training_fakes as fakes
from click.testing import CliRunner

from unibind.errors import InputError
from unibind.spacelock import LOCK_NAME, writing_space
from unibind_cli.main import cli

LABELS = ("bird", "cat", "dog", "fish")


def hold_lock_in_child(space):
    """A separate process holding SPACE's writer lock until killed (as a running train would)."""
    code = textwrap.dedent(f"""
        import sys, time
        from unibind.spacelock import writing_space
        with writing_space({str(space)!r}, "test"):
            print("held", flush=True)
            time.sleep(600)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "held"
    return child


def test_a_second_writer_is_refused_and_a_killed_one_releases(tmp_path):
    space = tmp_path / "space"
    child = hold_lock_in_child(space)
    try:
        with pytest.raises(InputError, match="another unibind process is writing this space"):
            with writing_space(space, "unibind train"):
                pass
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    with writing_space(space, "unibind train"):      # the OS dropped a killed holder's lock
        (space / "space.json").write_text("{}")
    assert sorted(p.name for p in space.iterdir()) == [LOCK_NAME, "space.json"]


def test_a_failed_run_leaves_no_folder_it_made(tmp_path):
    with pytest.raises(RuntimeError):
        with writing_space(tmp_path / "new" / "space", "unibind train"):
            raise RuntimeError("bad data")
    assert not (tmp_path / "new" / "space").exists()
    (tmp_path / "kept").mkdir()                          # a folder the user had is never removed
    with writing_space(tmp_path / "kept", "unibind train"):
        pass
    assert (tmp_path / "kept").is_dir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        with writing_space(tmp_path / "file", "unibind train"):
            pass


def test_train_and_calibrate_fit_refuse_a_space_another_process_writes(tmp_path, fake_registry):
    fakes.write_class_folders(tmp_path / "data", LABELS, 10)
    space = tmp_path / "space"
    fakes.train_tiny(tmp_path / "data", space, fake_registry)
    before = {p.name: p.stat().st_mtime_ns for p in space.rglob("*")}
    child = hold_lock_in_child(space)
    runner = CliRunner()
    try:
        trained = runner.invoke(cli, ["train", "--data", str(tmp_path / "data"), "--out", str(space),
                                      "--cache-dir", str(tmp_path / "features")])
        fitted = runner.invoke(cli, ["calibrate", "fit", str(tmp_path / "data"), "--space", str(space),
                                     "--modality", "vec", "--exclude-trained"])
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    for result, command in ((trained, "unibind train"), (fitted, "unibind calibrate fit")):
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert len(lines) == 1 and "another unibind process is writing this space" in lines[0], result.output
        assert command in lines[0]
    assert {p.name: p.stat().st_mtime_ns for p in space.rglob("*")} == before    # nothing touched


def test_a_space_mixing_two_runs_files_is_refused_on_load(tmp_path, fake_registry):
    from unibind.space import Space

    fakes.write_class_folders(tmp_path / "data", LABELS, 10)
    fakes.write_class_folders(tmp_path / "other", LABELS, 10, seed=1)
    fakes.train_tiny(tmp_path / "data", tmp_path / "a", fake_registry)
    fakes.train_tiny(tmp_path / "other", tmp_path / "b", fake_registry, seed=1)
    record = (tmp_path / "a" / "space.json").read_text()
    assert "adapters/vec.safetensors" in record and "centres/vec.safetensors" in record
    Space.from_dir(tmp_path / "a", registry=fake_registry)           # as written: loads
    for part in ("adapters/vec.safetensors", "centres/vec.safetensors"):
        mixed = tmp_path / f"mixed-{part.split('/')[0]}"
        shutil.copytree(tmp_path / "a", mixed)
        _replace_tensors(tmp_path / "b" / part, mixed / part)          # what a train midway through writes
        with pytest.raises(InputError, match="is not the file space.json was written with"):
            Space.from_dir(mixed, registry=fake_registry)
        result = CliRunner().invoke(cli, ["classify", str(tmp_path / "data" / "bird" / "0.vec"), "--space",
                                          str(mixed), "--labels", ",".join(LABELS)])
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert f"{mixed / part}: is not the file space.json was written with" in result.output


def _replace_tensors(source, target):
    """Write ``source``'s tensors into ``target``, nudged so they differ from ``target``'s own.

    Two runs with the same labels and no KB make equal centres, so a plain copy can be byte-identical
    when both runs are stamped in the same second; the nudge keeps the case this test is about.
    """
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(source, "pt") as opened:
        metadata = opened.metadata()
        tensors = {k: opened.get_tensor(k) for k in opened.keys()}
    tensors = {k: (t + 1e-3 if t.is_floating_point() else t) for k, t in tensors.items()}
    save_file(tensors, target, metadata=metadata)



def test_a_file_replaced_after_the_space_was_opened_is_refused_when_read(tmp_path, fake_registry):
    """Adapters and centres are read lazily, after the check at open: the check is repeated on the read."""
    from unibind.space import Space

    fakes.write_class_folders(tmp_path / "data", LABELS, 10)
    fakes.write_class_folders(tmp_path / "other", LABELS, 10, seed=1)
    fakes.train_tiny(tmp_path / "data", tmp_path / "a", fake_registry)
    fakes.train_tiny(tmp_path / "other", tmp_path / "b", fake_registry, seed=1)
    sample = tmp_path / "data" / "bird" / "0.vec"
    for part in ("adapters/vec.safetensors", "centres/vec.safetensors"):
        space_dir = tmp_path / f"open-{part.split('/')[0]}"
        shutil.copytree(tmp_path / "a", space_dir)
        space = Space.from_dir(space_dir, registry=fake_registry)                # checked here
        _replace_tensors(tmp_path / "b" / part, space_dir / part)                # a train replaces it now
        with pytest.raises(InputError, match="is not the file space.json was written with") as caught:
            space.classify([sample], labels=list(LABELS), modality="vec")
        assert str(space_dir / part) in str(caught.value)
    untouched = Space.from_dir(tmp_path / "a", registry=fake_registry)
    predictions, failures = untouched.classify([sample], labels=list(LABELS), modality="vec")
    assert not failures and predictions[0].label in LABELS
