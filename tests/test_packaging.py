"""What the distributions promise outside the workspace: torch range, tested set, licences."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
PYPROJECTS = [ROOT / "pyproject.toml", *sorted(ROOT.glob("plugins/*/pyproject.toml")),
              *sorted(ROOT.glob("examples/*/pyproject.toml"))]
TORCH_RANGE = {"torch": SpecifierSet(">=2.11,<2.15"), "torchvision": SpecifierSet(">=0.26,<0.30"),
               "torchaudio": SpecifierSet(">=2.11,<2.15")}


def _project(path: Path) -> dict:
    return tomllib.loads(path.read_text())["project"]


@pytest.mark.parametrize("pyproject", PYPROJECTS, ids=lambda p: p.parent.name)
def test_every_distribution_states_the_tested_torch_range(pyproject: Path) -> None:
    requirements = [Requirement(r) for r in _project(pyproject)["dependencies"]]
    stated = {r.name: r.specifier for r in requirements if r.name in TORCH_RANGE}
    if pyproject.parent.name != "unibind-plugin-llm-openai" and pyproject.parent.name != "unibind-plugin-wordnet":
        assert "torch" in stated, "a distribution that runs torch code states the range it was tested with"
    for name, specifier in stated.items():
        assert specifier == TORCH_RANGE[name], f"{pyproject}: {name}{specifier}"


def test_the_tested_torch_lies_in_the_range() -> None:
    constraints = (ROOT / "constraints" / "tested.txt").read_text()
    for name, specifier in TORCH_RANGE.items():
        pinned = re.search(rf"^{name}==([^ ;\n]+)", constraints, re.M)
        assert pinned and pinned.group(1) in specifier


def test_constraints_file_matches_the_lock() -> None:
    """constraints/tested.txt is ``uv export`` of uv.lock (regenerate with the command below)."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    exported = subprocess.run(
        [uv, "export", "--frozen", "--all-packages", "--all-extras", "--no-dev", "--no-hashes",
         "--no-emit-workspace", "--no-header", "--no-annotate", "--format", "requirements.txt"],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout
    committed = [line for line in (ROOT / "constraints" / "tested.txt").read_text().splitlines()
                 if not line.startswith("#")]
    assert committed == exported.splitlines()


def test_the_event_plugin_is_gpl_because_it_imports_tonic() -> None:
    event = ROOT / "plugins" / "unibind-plugin-event"
    assert _project(event / "pyproject.toml")["license"] == "GPL-3.0-or-later"
    assert any(Requirement(r).name == "tonic" for r in _project(event / "pyproject.toml")["dependencies"])
    assert "GPL-3.0-or-later" in (event / "README.md").read_text()
    assert re.search(r"\| `unibind-plugin-event` \| \*\*GPL-3.0-or-later\*\*", (ROOT / "README.md").read_text())


def test_simulate_commands_declare_their_data_package_as_an_extra() -> None:
    for plugin in ("event", "video"):
        extras = _project(ROOT / "plugins" / f"unibind-plugin-{plugin}" / "pyproject.toml")["optional-dependencies"]
        assert [Requirement(r).name for r in extras["simulate"]] == ["mlxtend"]
