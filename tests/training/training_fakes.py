"""Synthetic components for trainer tests (named as such): a ``.vec`` modality and a counting encoder.

A ``.vec`` file holds whitespace-separated floats; the encoder multiplies
them by a fixed random matrix (``scale`` is a preprocessing setting, so
changing it must invalidate cached features) and counts what it encodes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel

from unibind.adapters.linear import LinearAdapter, LinearAdapterSettings
from unibind.adapters.mlp import MLPAdapter, MLPAdapterSettings
from unibind.training.trainer import ModalityData, Positives


from unibind.encoders.base import Encoder
from unibind.modality import Modality
from unibind.specs import AdapterSpec, EncoderSpec, ModalitySpec

DIM_IN, DIM_OUT = 6, 12


class VecModality(Modality):
    name = "vec"

    def read(self, path: Path) -> np.ndarray:
        values = np.array(path.read_text().split(), dtype=np.float32)
        if values.shape != (DIM_IN,):
            raise ValueError(f"expected {DIM_IN} numbers, got {values.size}")
        return values


class CountingSettings(BaseModel):
    scale: float = 1.0


class CountingEncoder(Encoder):
    modality = "vec"
    dim = DIM_OUT
    calls = 0

    def __init__(self, settings: CountingSettings | None = None, **_):
        super().__init__()
        self.settings = settings or CountingSettings()
        self.proj = torch.nn.Linear(DIM_IN, DIM_OUT)
        with torch.no_grad():
            self.proj.weight.copy_(torch.randn(DIM_OUT, DIM_IN, generator=torch.Generator().manual_seed(0)))
            self.proj.bias.zero_()

    def preprocess(self, sample: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(sample) * self.settings.scale

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        type(self).calls += len(batch)
        return self.proj(batch)


def unibind_modalities(register):
    register(ModalitySpec(name="vec", factory="training_fakes:VecModality", suffixes=(".vec",)))


def unibind_encoders(register):
    register(EncoderSpec(name="counting", modality="vec", dim=DIM_OUT, default=True,
                         factory="training_fakes:CountingEncoder",
                         settings="training_fakes:CountingSettings"))
    register(EncoderSpec(name="hashing", modality="text", default=True, priority=100,
                         factory="unibind.knowledge._hashing:HashingTextEncoder",
                         settings="unibind.knowledge.testing:HashingSettings"))


def unibind_adapters(register):
    register(AdapterSpec(name="never-default", factory="unibind.adapters.base:IdentityAdapter",
                         modalities=("vec",)))


def write_vec(path: Path, values) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(" ".join(f"{v:.6f}" for v in values))
    return path


# -- synthetic features for trainer tests (no files) ------------------------------------------
CLASSES, D_IN, D = 4, 10, 8


def synthetic(seed=0, sizes=(("a", 96, 32), ("b", 24, 16))):
    """Synthetic task: each class a feature prototype; positives from 3 text centres per class."""
    gen = torch.Generator().manual_seed(seed)
    protos = {m: torch.randn(CLASSES, D_IN, generator=gen) for m, _, _ in sizes}
    centres = F.normalize(torch.randn(CLASSES, 3, D, generator=gen), dim=-1)
    positives = Positives(torch.empty(0, D), centres, torch.ones(CLASSES, 3, dtype=torch.bool))

    def rows(m, n):
        y = torch.arange(n) % CLASSES
        return ModalityData(protos[m][y] + 0.5 * torch.randn(n, D_IN, generator=gen), torch.full((n,), -1), y)

    train = {m: rows(m, n) for m, n, _ in sizes}
    val = {m: rows(m, v) for m, _, v in sizes}
    return train, val, positives


def adapters(kind="linear", seed=0, dropout=0.1):
    if kind == "mlp":
        settings = MLPAdapterSettings(hidden=16, seed=seed, dropout=dropout)
        return {m: MLPAdapter(settings, in_dim=D_IN, out_dim=D) for m in "ab"}
    return {m: LinearAdapter(LinearAdapterSettings(seed=seed), in_dim=D_IN, out_dim=D) for m in "ab"}


def write_class_folders(root: Path, labels, n_per_class: int, seed: int = 0) -> Path:
    """ROOT/<label>/<i>.vec (simulated: each class a feature prototype plus noise) and ROOT.jsonl listing them."""
    gen = np.random.default_rng(seed)
    protos = gen.standard_normal((len(labels), DIM_IN))
    lines = []
    for c, label in enumerate(labels):
        for i in range(n_per_class):
            path = write_vec(root / label / f"{i}.vec", protos[c] + 0.4 * gen.standard_normal(DIM_IN))
            lines.append(json.dumps({"path": str(path), "label": label, "instance": f"{label}{i}"}))
    manifest = root.parent / f"{root.name}.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def train_tiny(data: Path, out: Path, registry, *, seed: int = 0, epochs: int = 8):
    """``train_space`` on simulated class folders, quick: a few epochs at a high rate, validation 30 %."""
    from unibind.training.pipeline import TrainConfig, train_space
    from unibind.training.trainer import TrainSettings

    return train_space(TrainConfig(data=data, out=out, cache_dir=out.parent / "features", val_fraction=0.3,
                                   progress=False, train=TrainSettings(epochs=epochs, batch_size=8, lr=0.02,
                                                                       warmup_steps=1, seed=seed)),
                       registry=registry)
