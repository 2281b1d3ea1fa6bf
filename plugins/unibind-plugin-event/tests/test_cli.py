"""The command line: ``unibind embed event`` skips bad files; ``unibind event`` inspects, renders, simulates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from unibind_plugin_event import writers
from unibind_plugin_event.cli import event
from unibind_plugin_event.simulate import NMNIST_SENSOR


@pytest.mark.slow
def test_embed_event_batches_and_skips_bad_files(simulated_digit, tmp_path: Path) -> None:
    """Good files of three formats are embedded; an unsorted one and a text file are reported and skipped."""
    from unibind_cli.main import cli

    good = [writers.write_npy(tmp_path / "a.npy", simulated_digit),
            writers.write_nmnist(tmp_path / "b.bin", simulated_digit),
            writers.write_hdf5(tmp_path / "c.h5", simulated_digit, NMNIST_SENSOR)]
    unsorted = simulated_digit[::-1].copy()
    bad = [writers.write_npy(tmp_path / "unsorted.npy", unsorted), tmp_path / "notes.npz"]
    bad[1].write_text("not an archive")
    # the linear adapter (untrained) keeps this test from building the ImageNet bridge's 2,000 text embeddings
    result = CliRunner().invoke(cli, ["embed", "event", *map(str, good + bad), "--adapter", "linear",
                                      "--batch-size", "2"])
    print(result.output)
    assert result.exit_code == 1  # some inputs failed
    for path in good:   # one aligned summary line per embedded file
        assert any(line.endswith("...]") and "dim  384" in line and path.name in line
                   for line in result.output.splitlines()), path
    assert f"{bad[0]}: timestamps go backwards" in result.output
    assert f"{bad[1]}: not a recognised event file" in result.output
    assert "skipped 2 input(s)" in result.output


def test_event_simulate_info_and_render(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "sim"
    done = runner.invoke(event, ["simulate", str(out), "--per-class", "1", "--format", "npz"])
    assert done.exit_code == 0, done.output
    files = sorted(out.glob("simulated-*.npz"))
    assert len(files) == 10 and (out / "labels.csv").read_text().count("\n") == 11
    info = runner.invoke(event, ["info", str(files[0])])
    assert info.exit_code == 0 and "34x34 sensor" in info.output and "events" in info.output
    folder = runner.invoke(event, ["info", str(out)])  # a folder: its event files, labels.csv left aside
    assert folder.exit_code == 0 and folder.output.count("34x34 sensor") == 10, folder.output
    sheet = tmp_path / "sheet.png"
    drawn = runner.invoke(event, ["render", str(files[0]), "--out", str(sheet), "--frames", "2",
                                  "--representation", "timesurface", "--scale", "3"])
    assert drawn.exit_code == 0, drawn.output
    from PIL import Image

    with Image.open(sheet) as image:
        assert image.size == (2 * 34 * 3 + 2, 34 * 3)
        assert np.asarray(image).std() > 10  # something was drawn
    broken = tmp_path / "broken.npy"
    broken.write_bytes(b"\x93NUMPY garbage")
    assert runner.invoke(event, ["info", str(broken)]).exit_code == 1


def test_simulate_without_its_extra_says_in_one_line_what_to_install(tmp_path: Path, monkeypatch) -> None:
    """mlxtend is the ``simulate`` extra, not a dependency: without it, one Error line, no traceback."""
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "mlxtend" else real_find_spec(name, *a))
    result = CliRunner().invoke(event, ["simulate", str(tmp_path / "sim")])
    assert result.exit_code != 0 and (result.exception is None or isinstance(result.exception, SystemExit))
    assert result.output.strip().splitlines() == [
        "Error: Python package 'mlxtend' is not installed; `unibind event simulate` needs it: "
        "pip install 'unibind-plugin-event[simulate]'"]
    assert not (tmp_path / "sim").exists()  # nothing half written
