"""``unibind classify`` builds its encoder once per process, however many parts of it need the space.

The hashing text encoder stands in for EfficientNet-Lite0 (no model to load); the count is of its builds.
"""

from __future__ import annotations

from click.testing import CliRunner

from unibind.knowledge import _hashing
from unibind_cli.main import cli


def test_classify_builds_the_encoder_once(fake_text_registry, tmp_path, monkeypatch):
    fake_text_registry()
    built = []
    real = _hashing.HashingTextEncoder.__init__
    monkeypatch.setattr(_hashing.HashingTextEncoder, "__init__",
                        lambda self, *a, **k: built.append(1) or real(self, *a, **k))
    files = []
    for n, text in enumerate(["a dog in the park", "a red car", "a cat on a mat"]):
        files.append(tmp_path / f"{n}.txt")
        files[-1].write_text(text)
    result = CliRunner().invoke(cli, ["classify", *map(str, files), "--labels", "dog,car,cat", "--json"])
    assert result.exit_code == 0, result.output
    assert '"label"' in result.output and len(built) == 1
