"""``unibind plugin new`` writes a plugin that passes its own tests right after generation."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from unibind_cli.main import cli


def test_a_second_run_never_overwrites_and_bad_names_are_one_error_line(tmp_path: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["plugin", "new", "imu", "--modality", "imu", "--dir", str(tmp_path)])
    assert first.exit_code == 0, first.output
    plugin_py = tmp_path / "unibind-plugin-imu" / "src" / "unibind_plugin_imu" / "plugin.py"
    plugin_py.write_text("# the author's edits\n")
    again = runner.invoke(cli, ["plugin", "new", "imu", "--modality", "imu", "--dir", str(tmp_path)])
    assert again.exit_code != 0 and again.output.startswith("Error: ") and "already exists" in again.output
    assert plugin_py.read_text() == "# the author's edits\n"
    bad = runner.invoke(cli, ["plugin", "new", "My Plugin", "--modality", "imu", "--dir", str(tmp_path)])
    assert bad.exit_code != 0 and bad.output.count("\n") == 1 and "'My Plugin'" in bad.output


@pytest.mark.slow
def test_the_generated_plugin_installs_and_passes_its_own_tests(tmp_path: Path) -> None:
    """Generate, install (uv pip --target: the test venv itself is left untouched), run its tests."""
    result = CliRunner().invoke(cli, ["plugin", "new", "gait-imu", "--modality", "imu", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    root = tmp_path / "unibind-plugin-gait-imu"
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    target = tmp_path / "site"
    subprocess.run([uv, "pip", "install", "--no-deps", "--target", str(target), "--python", sys.executable,
                    "--quiet", str(root)], check=True)
    entry_points = next(target.glob("*.dist-info")) / "entry_points.txt"
    assert "gait-imu = unibind_plugin_gait_imu.plugin" in entry_points.read_text()
    env = {**os.environ, "PYTHONPATH": str(target), "UNIBIND_STRICT": "1"}
    tests = subprocess.run([sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider"], cwd=root,
                           env=env, capture_output=True, text=True, timeout=600)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "11 passed" in tests.stdout  # 7 contract checks + 4 of its own, none skipped
