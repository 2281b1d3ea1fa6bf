"""aisfx: a sound-effects embedding (Ma & Lerch, ISMIR 2022), used when its package is installed.

The ``aisfx`` package carries the weights (CC BY 4.0: credit A. B. Ma and
A. Lerch) and the network class, but its metadata pins numpy 1.23 and
librosa 0.9.2, which cannot live beside this project's numpy. So it is an
optional extra installed without its dependencies
(``uv pip install --no-deps aisfx``): only its network class and checkpoint
are used; its spectrogram (librosa/essentia) is recomputed with torchaudio
(see :func:`unibind_plugin_audio.features.aisfx_mel`).

When the package is missing, building the encoder raises a
:class:`AisfxUnavailable` that says how to install it; ``unibind
list-plugins`` still lists the encoder (registration imports nothing).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from unibind.encoders.base import Encoder
from unibind.errors import NotRegisteredError
from unibind_plugin_audio.clips import clip_waveforms
from unibind_plugin_audio.features import AISFX_RATE, aisfx_mel
from unibind_plugin_audio.sample import AudioSample
from unibind_plugin_audio.settings import AisfxSettings

INSTALL_HINT = "uv pip install --no-deps aisfx  (its numpy/librosa pins must not be installed)"
AISFX_DIM = 512


class AisfxUnavailable(NotRegisteredError):
    """The optional ``aisfx`` package is not installed (or cannot be imported)."""


def _aisfx_spec() -> importlib.machinery.ModuleSpec | None:
    return importlib.util.find_spec("aisfx")


def aisfx_available() -> bool:
    """Whether the ``aisfx`` package is installed, found without importing it."""
    return _aisfx_spec() is not None


def checkpoint_path() -> Path:
    spec = _aisfx_spec()
    if spec is None or not spec.submodule_search_locations:
        raise AisfxUnavailable(f"the aisfx encoder needs the optional package aisfx: {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "models" / "checkpoint.pth"


def load_embedding_net() -> torch.nn.Module:
    """aisfx's X-Sequential-CE embedding network with its packaged weights, read without a full unpickle.

    The checkpoint is a ``(state_dict, datasets)`` tuple pickled with numpy
    scalars; ``torch.load(weights_only=True)`` reads it once those two numpy
    types are allow-listed. Only the embedding network's tensors are kept (the
    per-dataset classifier heads are not needed for embeddings).
    """
    path = checkpoint_path()
    try:
        from aisfx.models.cnn2d import EmbeddingNet
    except Exception as exc:  # noqa: BLE001 - a broken install must not look like a missing one
        raise AisfxUnavailable(f"aisfx is installed but does not import ({type(exc).__name__}: {exc}); "
                               f"reinstall with: {INSTALL_HINT}") from exc
    import numpy as np

    try:
        from numpy._core.multiarray import scalar  # numpy 2 moved it; the pickle names numpy.core
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import scalar

    # pickled by numpy 1 (the package's file) or numpy 2: the same function under both names
    allowed = [scalar, (scalar, "numpy.core.multiarray.scalar"), (scalar, "numpy._core.multiarray.scalar"),
               np.dtype, type(np.dtype("int64"))]
    with torch.serialization.safe_globals(allowed):
        state, _datasets = torch.load(path, map_location="cpu", weights_only=True)
    prefix = "embedding_net."
    own = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    net = EmbeddingNet("max", 3, 1, 64)  # the paper's configuration: max pooling, 3x3 kernels, 64 maps
    net.load_state_dict(own, strict=True)
    return net.eval()


class AisfxEncoder(Encoder):
    """Audio -> 2.32 s blocks at 44.1 kHz -> paper's mel spectrogram -> aisfx CNN -> pooled 512-d."""

    modality = "audio"
    dim = AISFX_DIM

    def __init__(self, settings: AisfxSettings | None = None):
        super().__init__()
        self.settings = settings or AisfxSettings()
        self.net = load_embedding_net()
        self.source = f"aisfx:{checkpoint_path()}"
        self.freeze()

    def preprocess(self, sample: AudioSample) -> torch.Tensor:
        clips = clip_waveforms(sample, self.settings.clips, AISFX_RATE)
        return torch.stack([aisfx_mel(c) for c in clips])

    def collate(self, items: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.stack(list(items))

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        n, clips = batch.shape[:2]
        out = self.net(batch.flatten(0, 1)).view(n, clips, -1)
        return out.amax(1) if self.settings.pooling == "max" else out.mean(1)


def build_aisfx(settings: AisfxSettings | None = None, **_: Any) -> AisfxEncoder:
    return AisfxEncoder(settings)
