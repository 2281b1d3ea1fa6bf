"""Prompt templates for point clouds: the pointcloud modality's set for the ``templates`` source.

Written for this plugin, in the spirit of CLIP's 80 image templates: the
class as a 3D shape, scanned or modelled, whole or partial, dense or sparse.
The first is the pointcloud modality's canonical prompt. Each holds the class
slot ``{}`` once.
"""

from __future__ import annotations

POINTCLOUD_TEMPLATES: tuple[str, ...] = (
    "a point cloud of a {}.", "a point cloud of the {}.", "a 3D model of a {}.", "a 3D model of the {}.",
    "a 3D point cloud of the {}.", "a sparse point cloud of a {}.", "a dense point cloud of a {}.",
    "a noisy point cloud of a {}.", "a partial point cloud of a {}.", "a lidar scan of a {}.",
    "a lidar point cloud of the {}.", "a 3D scan of a {}.", "a 3D scan of the {}.", "a laser scan of a {}.",
    "a CAD model of a {}.", "a mesh of a {}.", "a 3D rendering of a {}.", "a 3D shape of a {}.",
    "the 3D shape of the {}.", "a point cloud sampled from a {} mesh.", "a low resolution point cloud of a {}.",
    "a high resolution 3D scan of a {}.", "a photogrammetry scan of a {}.", "a point cloud of a small {}.",
    "a point cloud of a large {}.", "a point cloud of many {}.", "a point cloud of one {}.",
    "a point cloud of my {}.", "a rotated point cloud of a {}.", "a point cloud of a {} seen from above.",
    "a point cloud of a {} seen from the side.", "an occluded point cloud of a {}.",
    "a cluttered scan with a {} in it.", "a segmented point cloud of a {}.", "an RGB-D scan of a {}.",
    "a voxel model of a {}.", "a wireframe of a {}.", "a 3D printed {}.", "a toy {} as a 3D model.",
    "a {} in a 3D scene.", "the surface points of a {}.", "a synthetic point cloud of a {}.",
    "a scanned {} object.", "a point cloud of a {} from a depth sensor.", "a depth scan of a {}.",
    "a centred and scaled point cloud of a {}.",
)
