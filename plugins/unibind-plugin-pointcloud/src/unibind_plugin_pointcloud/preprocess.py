"""From a loaded cloud to the fixed-size, normalised points an encoder takes."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from unibind_plugin_pointcloud.cloud import PointCloud
from unibind_plugin_pointcloud.ops import normalise, sample_indices
from unibind_plugin_pointcloud.settings import PreprocessSettings


def as_cloud(sample: Any) -> PointCloud:
    """A :class:`PointCloud`, or an ``[N, 3+]`` array taken as its points."""
    if isinstance(sample, PointCloud):
        return sample
    if isinstance(sample, (np.ndarray, torch.Tensor)) and sample.ndim == 2 and sample.shape[1] >= 3:
        array = sample.detach().cpu().numpy() if isinstance(sample, torch.Tensor) else sample
        return PointCloud(np.asarray(array[:, :3], dtype=np.float32))
    raise TypeError(f"point-cloud encoders take PointCloud samples or [N, 3] arrays (load files with the "
                    f"pointcloud modality), got {type(sample).__name__}")


def prepare(sample: Any, settings: PreprocessSettings, *, with_normals: bool = False) -> torch.Tensor:
    """Centred, unit-sphere, farthest-point-sampled ``[num_points, 3]`` (``[.., 6]`` with normals).

    FPS runs on the raw cloud and normalisation on the chosen points, so the
    unit sphere is that of what the encoder sees (FPS itself does not care
    where the cloud sits or how big it is). Normals are directions: centring
    and scaling leave them as they are.
    """
    cloud = as_cloud(sample)
    points = torch.from_numpy(np.ascontiguousarray(cloud.points, dtype=np.float32))
    idx = sample_indices(len(points), points, settings.num_points, settings.fps_backend)
    chosen = normalise(points[idx], centre=settings.centre, unit_sphere=settings.unit_sphere)
    if not with_normals:
        return chosen
    normals = (torch.from_numpy(np.asarray(cloud.normals, dtype=np.float32))[idx] if cloud.normals is not None
               else torch.zeros_like(chosen))
    return torch.cat([chosen, normals], dim=1)
