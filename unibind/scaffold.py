"""``unibind plugin new``: write a plugin skeleton that passes its own tests right away.

The skeleton is a sensor-style modality read from CSV files (``walk.<modality>.csv``:
one row per time step, one column per channel), rendered as a picture and embedded
by the image modality's encoder through the core's ``ImageBackedEncoder``. It is
the smallest complete plugin: entry point, hooks, settings, loader, encoder, the
contract kit and one behaviour test. Authors replace the loader and the picture.
"""

from __future__ import annotations

import re
from pathlib import Path

from unibind.errors import UniBindError

NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")


class ScaffoldError(UniBindError, ValueError):
    """The scaffold cannot be written (bad name, folder already there)."""


def write_plugin(name: str, modality: str, directory: str | Path = ".") -> Path:
    """Write ``DIRECTORY/unibind-plugin-NAME`` for ``modality``; returns its folder. Never overwrites."""
    for what, value in (("plugin name", name), ("modality", modality)):
        if not NAME.match(value):
            raise ScaffoldError(f"{what} {value!r} must be lowercase letters and digits, "
                                "words joined by '-' or '_' (e.g. 'imu', 'gait-imu')")
    root = Path(directory) / f"unibind-plugin-{name}"
    if root.exists():
        raise ScaffoldError(f"{root} already exists; choose another --dir or name")
    package = f"unibind_plugin_{name.replace('-', '_')}"
    fields = {
        "{{name}}": name,
        "{{package}}": package,
        "{{modality}}": modality,
        "{{Modality}}": "".join(part.capitalize() for part in re.split(r"[-_]", modality)),
        "{{encoder}}": f"{modality}-render",
    }
    staging = root.with_name(f".{root.name}.partial")
    for relative, template in _FILES.items():
        text = template
        for key, value in fields.items():
            text = text.replace(key, value)
        path = staging / relative.replace("{{package}}", package).replace("{{modality}}", modality)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"), encoding="utf-8")
    staging.rename(root)  # all files or none: an interrupted run leaves only the hidden staging folder
    return root


_PYPROJECT = '''
[project]
name = "unibind-plugin-{{name}}"
version = "0.1.0"
description = "UniBind {{modality}} modality: CSV recordings drawn as pictures for the image encoder."
readme = "README.md"
requires-python = ">=3.10"
license = "Apache-2.0"
dependencies = [
    "unibind>=0.1",
    "unibind-plugin-image>=0.1",  # the picture is embedded by the image modality's encoder
    "torch>=2.11,<2.15",          # the range UniBind is tested with (constraints/tested.txt)
    "numpy>=1.24",
    "pillow>=10",
    "pydantic>=2.6",
]

# The one line that makes this a UniBind plugin: the core finds it through this group.
[project.entry-points.unibind]
{{name}} = "{{package}}.plugin"

[project.optional-dependencies]
test = ["pytest>=8"]

[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[tool.hatch.build.targets.wheel]
packages = ["src/{{package}}"]

[tool.pytest.ini_options]
addopts = "--import-mode=importlib"
'''

_README = '''
# unibind-plugin-{{name}}

A UniBind plugin for the `{{modality}}` modality, written by `unibind plugin new`.

```console
$ pip install -e '.[test]'
$ unibind list-plugins                 # {{name}}: modality {{modality}}, encoder {{encoder}}
$ unibind embed {{modality}} recordings/
$ pytest
```

Files: `NAME.{{modality}}.csv`, one row per time step, one numeric column per channel, an
optional header row. The encoder `{{encoder}}` draws the channels as grey bands and lets the
image modality's encoder see the picture.
'''

_INIT = '''
"""UniBind plugin for the {{modality}} modality. Cheap to import: the core reads only ``plugin``."""

__version__ = "0.1.0"
'''

_PLUGIN = '''
"""What this plugin registers: hook implementations only, nothing heavy imported."""

from __future__ import annotations

from unibind import EncoderSpec, ModalitySpec, hookimpl


@hookimpl
def unibind_modalities(register):
    register(ModalitySpec(
        name="{{modality}}",
        factory="{{package}}.loading:{{Modality}}Modality",
        settings="{{package}}.settings:{{Modality}}Settings",
        suffixes=(".{{modality}}.csv",),  # a double suffix: plain .csv stays unclaimed
        summary="{{modality}} recordings: CSV, one row per time step, one column per channel",
    ))


@hookimpl
def unibind_encoders(register):
    register(EncoderSpec(
        name="{{encoder}}",
        modality="{{modality}}",
        dim=None,  # that of the image encoder it draws for
        default=True,
        factory="{{package}}.encoder:{{Modality}}RenderEncoder.from_settings",
        settings="{{package}}.settings:{{Modality}}RenderSettings",
        weights="none of its own: those of the chosen image encoder (default: the image modality's)",
        summary="draws the channels as grey bands and embeds the picture with a registered image encoder",
    ))
'''

_LOADING = '''
"""The loader: one CSV file in, one float32 array [time, channels] out, or an InputError."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from unibind.errors import InputError
from unibind.modality import Modality
from {{package}}.settings import {{Modality}}Settings


class {{Modality}}Modality(Modality):
    """Reads {{modality}} recordings; every problem becomes an InputError naming the file."""

    name = "{{modality}}"

    def __init__(self, settings: {{Modality}}Settings | None = None):
        super().__init__(settings or {{Modality}}Settings())
        self.settings: {{Modality}}Settings

    def read(self, path: Path) -> np.ndarray:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        rows = [row for row in csv.reader(text.splitlines(), delimiter=self.settings.delimiter) if row]
        if len(rows) > 1 and _header(rows[0]):  # a header row: one name per column
            if len(rows[0]) != len(rows[1]):
                raise InputError(path, f"header row has {len(rows[0])} columns, the data rows {len(rows[1])}")
            rows = rows[1:]
        if len(rows) < self.settings.min_rows:
            raise InputError(path, f"needs at least {self.settings.min_rows} rows of numbers, "
                                   f"found {len(rows)}")
        width = len(rows[0])
        for number, row in enumerate(rows, start=1):
            if len(row) != width:
                raise InputError(path, f"data row {number} has {len(row)} columns, the first has {width}")
            if not _numeric(row):
                raise InputError(path, f"data row {number} holds a value that is not a finite number")
        return np.asarray(rows, dtype=np.float32)


def _numeric(row: list[str]) -> bool:
    try:
        return all(math.isfinite(float(value)) for value in row)
    except ValueError:
        return False


def _header(row: list[str]) -> bool:
    """Column names: short printable text and no number among them.

    Strict on purpose: a first row that merely fails to parse (a corrupted start, one stray number
    beside garbage) must be reported as bad data, not skipped as a header.
    """
    return all(cell.strip() and len(cell) <= 64 and cell.isprintable() and not _numeric([cell]) for cell in row)
'''

_ENCODER = '''
"""The encoder: the recording drawn as a picture, embedded by the image modality's encoder.

``ImageBackedEncoder`` (from the core) finds the image encoder through the registry,
takes over its dimension, frozen weights and ImageNet head, and builds itself from
settings naming an image encoder (or none: the image modality's default).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

from unibind.encoders.base import ImageBackedEncoder


class {{Modality}}RenderEncoder(ImageBackedEncoder):
    """{{Modality}} recording [time, channels] -> grey bands, one per channel -> image encoder."""

    modality = "{{modality}}"
    needed_by = "{{encoder}}"

    def render(self, sample: np.ndarray) -> Image.Image:
        """The picture the image encoder sees: each channel scaled to [0, 255], time left to right."""
        values = np.asarray(sample, dtype=np.float32).T  # channels x time
        low, high = values.min(axis=1, keepdims=True), values.max(axis=1, keepdims=True)
        grey = (values - low) / np.where(high > low, high - low, 1.0)
        picture = Image.fromarray((grey * 255).astype(np.uint8), mode="L")
        return picture.resize((self.settings.size, self.settings.size), Image.NEAREST).convert("RGB")

    def preprocess(self, sample: np.ndarray) -> torch.Tensor:
        return self.image.preprocess(self.render(sample))

    def collate(self, items: Sequence[torch.Tensor]) -> Any:
        return self.image.collate(items)

    def forward(self, batch: Any) -> torch.Tensor:
        return self.image(batch)
'''

_SETTINGS = '''
"""Settings models: documented defaults, unknown keys refused. Imports only pydantic."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class {{Modality}}Settings(BaseModel):
    """How a {{modality}} CSV file is read."""

    model_config = ConfigDict(extra="forbid")

    delimiter: str = Field(default=",", min_length=1, max_length=1, description="Column separator.")
    min_rows: int = Field(default=2, ge=1, description="Fewer time steps than this is an error.")


class {{Modality}}RenderSettings(BaseModel):
    """How a recording becomes a picture, and which image encoder sees it."""

    model_config = ConfigDict(extra="forbid")

    image_encoder: str | None = Field(default=None, description="Registered image encoder; None: default.")
    image_encoder_settings: dict[str, Any] = Field(default_factory=dict, description="Its settings.")
    size: int = Field(default=224, ge=8, description="Side of the square picture, in pixels.")
'''

_SIMULATED = '''
"""SIMULATED recordings for the tests: no real {{modality}} data ships in a package."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_recording(path: Path, seconds: int = 2, rate: int = 50,
                    frequencies: tuple[float, ...] = (1.0, 2.0, 3.0)) -> Path:
    """A simulated recording, one sine wave per channel (1, 2 and 3 Hz by default), with a header row."""
    t = np.arange(seconds * rate) / rate
    data = np.stack([np.sin(2 * np.pi * f * t) for f in frequencies], axis=1)
    rows = [",".join("xyzuvw"[:len(frequencies)])] + [",".join(f"{v:.5f}" for v in row) for row in data]
    path.write_text("\\n".join(rows) + "\\n", encoding="utf-8")
    return path
'''

_CONFTEST = '''
"""Fixtures shared by this plugin's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from {{package}}.simulated import write_recording


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    """One simulated recording with the plugin's double suffix."""
    return write_recording(tmp_path / "walk.{{modality}}.csv")
'''

_TEST_CONTRACT = '''
"""The shared contract kit, run against this plugin."""

from __future__ import annotations

from pathlib import Path

from unibind.testing import PluginContract
from {{package}}.simulated import write_recording


class TestContract(PluginContract):
    plugin = "{{name}}"
    # A CSV cut on a row boundary is a valid, shorter recording: not a broken file.
    skip_bad_files = ("truncated",)

    def sample_file(self, modality: str, tmp_path: Path) -> Path:
        assert modality == "{{modality}}"
        return write_recording(tmp_path / "walk.{{modality}}.csv")

    def other_sample_file(self, modality: str, tmp_path: Path) -> Path:
        # a different recording, so the batch check can notice rows mixed up between samples
        return write_recording(tmp_path / "run.{{modality}}.csv", frequencies=(0.5, 4.0, 1.5))
'''

_TEST_OWN = '''
"""What this plugin promises beyond the contract."""

from __future__ import annotations

import pytest

from unibind.errors import InputError
from {{package}}.loading import {{Modality}}Modality


def test_a_recording_loads_as_time_by_channels(recording) -> None:
    sample = {{Modality}}Modality().load(recording)
    assert sample.shape == (100, 3) and sample.dtype.name == "float32"


def test_a_ragged_row_is_refused_naming_the_file(tmp_path) -> None:
    bad = tmp_path / "ragged.{{modality}}.csv"
    bad.write_text("1,2,3\\n4,5\\n")
    with pytest.raises(InputError, match="ragged.{{modality}}.csv: data row 2 has 2 columns"):
        {{Modality}}Modality().load(bad)


def test_a_first_row_with_a_number_in_it_is_bad_data_not_a_header(tmp_path) -> None:
    bad = tmp_path / "garbled.{{modality}}.csv"
    bad.write_text("jtkhcPjt,0.5\\n0.1,0.2\\n0.3,0.4\\n")
    with pytest.raises(InputError, match="garbled.{{modality}}.csv: data row 1 holds a value that is not"):
        {{Modality}}Modality().load(bad)


def test_the_registry_sends_the_double_suffix_here() -> None:
    from unibind.plugins import get_registry

    assert get_registry().modality_for_path("walk.{{modality}}.csv").name == "{{modality}}"
'''

_FILES = {
    "pyproject.toml": _PYPROJECT,
    "README.md": _README,
    "src/{{package}}/__init__.py": _INIT,
    "src/{{package}}/plugin.py": _PLUGIN,
    "src/{{package}}/loading.py": _LOADING,
    "src/{{package}}/encoder.py": _ENCODER,
    "src/{{package}}/settings.py": _SETTINGS,
    "src/{{package}}/simulated.py": _SIMULATED,
    "tests/conftest.py": _CONFTEST,
    "tests/test_contract.py": _TEST_CONTRACT,
    "tests/test_{{modality}}.py": _TEST_OWN,
}
