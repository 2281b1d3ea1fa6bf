"""The optional aisfx encoder: clear when its package is missing, correct loading when it is there.

aisfx cannot be a plain dependency (its metadata pins numpy 1.23 / librosa
0.9.2), so a fresh environment does not have it. The loading code is checked
on a *simulated* aisfx package written here (a small stand-in network and a
checkpoint pickled the way the real one is: a (state dict, datasets) tuple
with numpy scalars), and on the real package when it is installed.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from unibind.errors import NotRegisteredError
from unibind.plugins import get_registry
from unibind_plugin_audio import aisfx_encoder
from unibind_plugin_audio.aisfx_encoder import AisfxEncoder, AisfxUnavailable, aisfx_available
from unibind_plugin_audio.loading import AudioModality

_STAND_IN = '''
"""Simulated aisfx network for the tests: same constructor, 512-d output, not the real architecture."""
import torch
from torch import nn


class EmbeddingNet(nn.Module):
    def __init__(self, pool_type, ks, strd, hl1):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, ks, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.out = nn.Linear(8, hl1 * 8)

    def forward(self, x):
        h = torch.relu(self.bn(self.conv(x.unsqueeze(1))))
        return self.out(h.mean((2, 3)))
'''


def _forget_aisfx() -> None:
    for name in [m for m in sys.modules if m == "aisfx" or m.startswith("aisfx.")]:
        del sys.modules[name]


@pytest.fixture
def stand_in_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A folder put first on sys.path for a stand-in aisfx; every aisfx module is forgotten after."""
    root = tmp_path / "site"
    (root / "aisfx" / "models").mkdir(parents=True)
    monkeypatch.syspath_prepend(str(root))
    _forget_aisfx()
    yield root
    _forget_aisfx()


@pytest.fixture
def simulated_aisfx(stand_in_site: Path) -> dict[str, torch.Tensor]:
    """A simulated aisfx package on sys.path; returns the embedding-net tensors of its checkpoint."""
    models = stand_in_site / "aisfx" / "models"
    (stand_in_site / "aisfx" / "__init__.py").write_text("")
    (models / "__init__.py").write_text("")
    (models / "cnn2d.py").write_text(textwrap.dedent(_STAND_IN))
    from aisfx.models.cnn2d import EmbeddingNet

    torch.manual_seed(0)
    net = EmbeddingNet("max", 3, 1, 64)
    state = {f"embedding_net.{k}": v for k, v in net.state_dict().items()}
    state["fc.0.0.weight"] = torch.randn(256, 512)  # a per-dataset head, not needed for embeddings
    datasets = {"prosfx": (np.int64(0), 78), "soundlyTrain": (np.int64(1), 79)}
    torch.save((state, datasets), models / "checkpoint.pth")
    return {k.removeprefix("embedding_net."): v for k, v in state.items() if k.startswith("embedding_net.")}


def test_simulated_package_loads_with_the_restricted_unpickler(simulated_aisfx, sound) -> None:
    assert aisfx_available()
    encoder = get_registry().get("encoder", "aisfx").build()
    assert isinstance(encoder, AisfxEncoder) and encoder.dim == 512
    for key, tensor in simulated_aisfx.items():
        assert torch.equal(encoder.net.state_dict()[key], tensor), key
    loader = AudioModality()
    samples = [loader.load(sound(name)) for name in ("cow", "duck")]
    out = encoder.encode(samples)
    assert out.shape == (2, 512) and torch.isfinite(out).all()
    assert not torch.allclose(out[0], out[1])
    # three 2.32-s blocks of 100 frames x 96 mel bands per file
    assert encoder.preprocess(samples[0]).shape == (3, 100, 96)


def test_missing_package_is_reported_with_the_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aisfx_encoder, "_aisfx_spec", lambda: None)
    assert not aisfx_available()
    spec = get_registry().get("encoder", "aisfx")  # still registered and listed
    assert spec.dim == 512 and "optional" in spec.summary
    with pytest.raises(AisfxUnavailable, match=r"uv pip install --no-deps aisfx") as err:
        spec.build()
    assert isinstance(err.value, NotRegisteredError)


def test_broken_install_is_not_mistaken_for_a_missing_one(stand_in_site: Path) -> None:
    (stand_in_site / "aisfx" / "__init__.py").write_text("import librosa_that_is_not_there\n")
    with pytest.raises(AisfxUnavailable, match="installed but does not import"):
        AisfxEncoder()


def test_without_the_package_the_encoder_says_how_to_install_it() -> None:
    if aisfx_available():
        pytest.skip("aisfx is installed: the missing-package path cannot be reached")
    with pytest.raises(AisfxUnavailable, match="--no-deps aisfx"):
        AisfxEncoder()


def test_the_real_package_when_installed(sound) -> None:
    """With aisfx installed (uv pip install --no-deps aisfx) it embeds real sounds."""
    if not aisfx_available():
        pytest.skip("aisfx is not installed (optional: uv pip install --no-deps aisfx)")
    encoder = AisfxEncoder()
    samples = [AudioModality().load(sound(name)) for name in ("cow", "bull", "duck")]
    out = torch.nn.functional.normalize(encoder.encode(samples), dim=-1)
    assert out.shape == (3, 512) and torch.isfinite(out).all()
    print(f"aisfx cosine cow-bull {float(out[0] @ out[1]):.3f}, cow-duck {float(out[0] @ out[2]):.3f}")
