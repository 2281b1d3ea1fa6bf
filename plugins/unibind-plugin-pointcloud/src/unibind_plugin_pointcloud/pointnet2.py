"""The ``pointnet2`` encoder: PointNet++ set abstraction (single-scale grouping), trainable.

Two local levels (farthest-point sample centres, group neighbours by ball
query, a shared MLP on each neighbour's offset and features, max-pool) and a
global level, as in Qi et al. 2017's classification network, ending at the
1024-d global feature. Built on this plugin's own ops, so it runs on a CPU
(torch or fpsample FPS) and uses pointnet2_ops' CUDA FPS on a GPU when it
is installed.

No trained weights ship: it starts from a seeded random initialisation and
is meant to be trained; trained weights are saved with :meth:`save_weights`
and loaded from a local safetensors file with the ``weights`` setting.
"""

from __future__ import annotations

import itertools
import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from unibind.atomic import save_tensors
from unibind.encoders.base import Encoder
from unibind.errors import InputError
from unibind_plugin_pointcloud.ops import ball_query, farthest_point_sample, gather
from unibind_plugin_pointcloud.preprocess import prepare
from unibind_plugin_pointcloud.settings import PointNet2Settings

#: Settings that change the shapes of the weights: a file must have been saved with the same ones.
ARCHITECTURE = ("use_normals", "width")


def _mlp(channels: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for c_in, c_out in itertools.pairwise(channels):
        layers += [nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class SetAbstraction(nn.Module):
    """Sample centres, group their neighbourhoods, and summarise each by a shared MLP and a max."""

    def __init__(self, centres: int | None, radius: float, neighbours: int, channels: list[int],
                 fps_backend: str = "auto"):
        super().__init__()
        self.centres, self.radius, self.neighbours = centres, radius, neighbours
        self.fps_backend = fps_backend
        self.mlp = _mlp(channels)

    def forward(self, xyz: torch.Tensor, features: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if self.centres is None:  # group everything around the origin
            centres = xyz.new_zeros(xyz.shape[0], 1, 3)
            grouped = xyz[:, None]
            if features is not None:
                grouped = torch.cat([grouped, features[:, None]], dim=-1)
        else:
            with torch.no_grad():
                chosen = farthest_point_sample(xyz.detach(), self.centres, self.fps_backend).to(xyz.device)
                centres = gather(xyz, chosen)
                members = ball_query(centres, xyz, self.radius, self.neighbours)
            grouped = gather(xyz, members) - centres[:, :, None]
            if features is not None:
                grouped = torch.cat([grouped, gather(features, members)], dim=-1)
        out = self.mlp(grouped.permute(0, 3, 1, 2))  # [B, C, centres, neighbours]
        return centres, out.max(dim=-1).values.transpose(1, 2)


class PointNet2Encoder(Encoder):
    """``[B, N, 3 (+3 normals)]`` -> ``[B, 1024 x width]`` global features."""

    modality = "pointcloud"

    def __init__(self, settings: PointNet2Settings):
        super().__init__()
        self.settings = settings
        s = settings
        w = s.width

        def c(n: int) -> int:
            return max(1, round(n * w))

        extra = 3 if s.use_normals else 0
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(s.seed)
            self.sa1 = SetAbstraction(s.sa_points[0], s.sa_radii[0], s.sa_samples[0],
                                      [3 + extra, c(64), c(64), c(128)], s.fps_backend)
            self.sa2 = SetAbstraction(s.sa_points[1], s.sa_radii[1], s.sa_samples[1],
                                      [3 + c(128), c(128), c(128), c(256)], s.fps_backend)
            self.sa3 = SetAbstraction(None, 0.0, 0, [3 + c(256), c(256), c(512), c(1024)], s.fps_backend)
        self.dim = c(1024)
        if s.weights is not None:
            self.load_weights(s.weights)
        else:
            warnings.warn("pointnet2 has random weights (none ship): train it, or set weights= to a "
                          "safetensors file saved by save_weights", stacklevel=3)
        self.eval()

    def preprocess(self, sample: Any) -> torch.Tensor:
        return prepare(sample, self.settings, with_normals=self.settings.use_normals)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        xyz = batch[..., :3].contiguous()
        features = batch[..., 3:6] if self.settings.use_normals else None
        xyz, features = self.sa1(xyz, features)
        xyz, features = self.sa2(xyz, features)
        _, features = self.sa3(xyz, features)
        return features[:, 0]

    # -- weights -------------------------------------------------------------------------------
    def _identity(self) -> dict[str, Any]:
        return {"encoder": "pointnet2", "dim": self.dim,
                **{k: getattr(self.settings, k) for k in ARCHITECTURE}}

    def save_weights(self, path: str | Path) -> Path:
        """All parameters and batch-norm statistics as safetensors, with the architecture in the header."""
        return save_tensors(dict(self.state_dict()), path, metadata={"unibind": json.dumps(self._identity())})

    def load_weights(self, path: str | Path) -> None:
        """Load a safetensors file saved for this architecture; anything else is a clear InputError."""
        from safetensors import safe_open
        from safetensors.torch import load_file

        path = Path(path)
        if not path.is_file():
            raise InputError(path, "pointnet2 weights file does not exist")
        try:
            with safe_open(str(path), framework="pt") as fh:
                meta = json.loads((fh.metadata() or {}).get("unibind", "{}"))
            state = load_file(str(path))
        except Exception as exc:  # noqa: BLE001 - any reader error means an unusable file
            raise InputError(path, f"not a readable safetensors file: {type(exc).__name__}: {exc}") from None
        want = self._identity()
        differ = {k: (meta[k], want[k]) for k in want if k in meta and meta[k] != want[k]}
        if differ:
            said = ", ".join(f"{k}={a!r} (settings say {b!r})" for k, (a, b) in differ.items())
            raise InputError(path, f"weights were saved for another architecture: {said}")
        missing, unexpected = self.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise InputError(path, f"weights do not fit pointnet2: missing {sorted(missing)[:4]}, "
                                   f"unexpected {sorted(unexpected)[:4]}")


def build_pointnet2(settings: PointNet2Settings | None = None, **_: Any) -> PointNet2Encoder:
    return PointNet2Encoder(settings or PointNet2Settings())
