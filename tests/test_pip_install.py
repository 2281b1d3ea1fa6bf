"""``pip install unibind-plugin-event``, for real: built wheels, a fresh venv, plain pip, no uv, no lock.

The one test outside the workspace: every distribution's wheel is built, the event
plugin is installed with pip from those wheels into a new venv (its dependencies,
torch included, resolved by pip from the package index as a user's pip would), and
the commands a user runs first must work there. It prints what pip installed and how
long each step took. Slow (minutes: torch and its CUDA libraries are large).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DISTRIBUTIONS = ["unibind", *sorted(p.name for p in ROOT.glob("plugins/unibind-plugin-*")),
                 *sorted(p.name for p in ROOT.glob("examples/unibind-plugin-*"))]


def _user_env(venv: Path) -> dict[str, str]:
    """A user's shell with the venv activated: nothing of the workspace's venv or uv leaks in."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("UV_", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UNIBIND_"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    env["HF_HUB_OFFLINE"] = "1"
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path, timeout: int = 1800) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_event_plugin_installed_with_plain_pip_from_built_wheels_runs_its_commands(tmp_path: Path) -> None:
    timings: dict[str, float] = {}
    start = time.perf_counter()
    dist = tmp_path / "dist"
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    subprocess.run([uv, "build", "--all-packages", "--wheel", "--out-dir", str(dist), "-q"], cwd=ROOT, check=True)
    wheels = {w.name.split("-")[0].replace("_", "-"): w for w in dist.glob("*.whl")}
    assert sorted(wheels) == sorted(DISTRIBUTIONS)
    with zipfile.ZipFile(wheels["unibind"]) as wheel:
        metadata = wheel.read(next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    assert "Requires-Dist: torch<2.15,>=2.11" in metadata
    timings["build wheels"] = time.perf_counter() - start

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = _user_env(venv)
    mark = time.perf_counter()
    # The three wheels by file (a same-named project on the index can never win), the rest from the index.
    install = _run([str(venv / "bin" / "pip"), "install", "--no-compile", "--progress-bar", "off",
                    "--find-links", str(dist), f"{wheels['unibind-plugin-event']}[simulate]",
                    str(wheels["unibind-plugin-image"]), str(wheels["unibind"])], env, tmp_path)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    timings["pip install"] = time.perf_counter() - mark
    listing = _run([str(venv / "bin" / "pip"), "list", "--format", "json"], env, tmp_path).stdout
    installed = {d["name"].lower().replace("_", "-"): d["version"] for d in json.loads(listing)}
    assert "uv" not in installed and installed["unibind-plugin-event"] == "0.1.0"

    mark = time.perf_counter()
    listed = _run(["unibind", "list-plugins", "--json"], env, tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert {p["name"]: p["status"] for p in json.loads(listed.stdout)} == {"event": "ok", "image": "ok"}

    sim = tmp_path / "sim"
    simulated = _run(["unibind", "event", "simulate", str(sim), "--per-class", "1"], env, tmp_path)
    assert simulated.returncode == 0, simulated.stderr
    assert len(list(sim.glob("*.npy"))) == 10 and (sim / "labels.csv").is_file()

    out = tmp_path / "event.safetensors"
    embedded = _run(["unibind", "embed", "event", str(sim), "--out", str(out)], env, tmp_path)
    assert embedded.returncode == 0, embedded.stderr
    assert embedded.stdout.startswith("saved 10 x ") and out.is_file()
    assert "ignored 1 file" in embedded.stderr  # labels.csv: said, not silently dropped

    digits = "zero,one,two,three,four,five,six,seven,eight,nine"
    classified = _run(["unibind", "classify", str(sim), "--labels", digits, "--json"], env, tmp_path)
    assert classified.returncode == 0, classified.stderr
    predictions = [json.loads(line) for line in classified.stdout.splitlines()]
    assert len(predictions) == 10 and all(p["label"] in digits.split(",") for p in predictions)
    timings["four commands"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - start

    print(f"\nfresh pip venv: torch {installed.get('torch')}, torchvision {installed.get('torchvision')}, "
          f"numpy {installed.get('numpy')}, {len(installed)} distributions, "
          f"{sum(1 for n in installed if n.startswith('nvidia-'))} nvidia-*")
    print("timings: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
