"""A plugin installs on top of the core alone, in a fresh virtual environment, and works."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TORCH_TRIPLE = "torch==2.11.0\ntorchvision==0.26.0\ntorchaudio==2.11.0\n"


def _uv() -> list[str]:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def _run(args, **kw) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=900, **kw)
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.mark.slow
def test_image_plugin_installs_on_the_core_alone_and_classifies(tmp_path):
    from sklearn.datasets import __file__ as sklearn_datasets

    venv = tmp_path / "venv"
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(TORCH_TRIPLE)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "UNIBIND_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("VIRTUAL_ENV", None)
    env.pop("UNIBIND_PLUGINS", None)
    _run([*_uv(), "venv", "--quiet", "--python", sys.executable, venv], env=env)
    python, unibind = venv / "bin" / "python", venv / "bin" / "unibind"
    install = [*_uv(), "pip", "install", "--quiet", "--python", python, "--no-sources", "-c", constraints]

    _run([*install, ROOT], env=env)  # the core alone
    assert json.loads(_run([unibind, "list-plugins", "--json"], env=env).stdout) == []

    _run([*install, ROOT / "plugins" / "unibind-plugin-image"], env=env)  # pip-style, onto the core
    listed = json.loads(_run([unibind, "list-plugins", "--json"], env=env).stdout)
    assert [(p["name"], p["distribution"], p["status"]) for p in listed] == [
        ("image", "unibind-plugin-image", "ok")]
    frozen = _run([*_uv(), "pip", "freeze", "--python", python], env=env).stdout
    assert "unibind-plugin-depth" not in frozen and "torch==2.11.0" in frozen

    images = Path(sklearn_datasets).parent / "images"
    done = _run([unibind, "classify", images / "flower.jpg", images / "china.jpg",
                 "--labels", "flower,building,dog,car", "--json"], env=env)
    labels = {Path(json.loads(line)["source"]).name: json.loads(line)["label"]
              for line in done.stdout.strip().splitlines()}
    assert labels == {"flower.jpg": "flower", "china.jpg": "building"}
