"""What the point-cloud plugin registers: hook implementations only, nothing heavy imported.

No adapter of its own: multiview-depth exposes its image encoder's ImageNet
head, so the image plugin's ``imagenet-bridge`` (which serves any encoder
with one) is the point-cloud default and works with no training.
"""

from __future__ import annotations

from unibind import EncoderSpec, ModalitySpec, hookimpl

_PKG = "unibind_plugin_pointcloud"


@hookimpl
def unibind_modalities(register):
    register(ModalitySpec(
        name="pointcloud",
        factory=f"{_PKG}.loading:PointCloudModality",
        settings=f"{_PKG}.settings:PointCloudLoadSettings",
        # .npy/.npz/.txt are read when the modality is chosen explicitly (`unibind embed pointcloud x.npy`);
        # they are not claimed here because other modalities (text, depth, event) use them too.
        suffixes=(".ply", ".off", ".pcd", ".xyz", ".xyzn", ".xyzrgb", ".pts"),
        media_types=("model/x-ply", "application/x-off", "application/x-pcd"),
        templates=f"{_PKG}.templates:POINTCLOUD_TEMPLATES",
        summary="PLY (ASCII/binary), OFF (ModelNet), PCD (ASCII/binary/compressed), XYZ/TXT/PTS, NPY/NPZ; "
                "normals and colours; meshes sampled by area",
    ))


@hookimpl
def unibind_encoders(register):
    register(EncoderSpec(
        name="multiview-depth", modality="pointcloud", dim=None, default=True,
        factory=f"{_PKG}.multiview:build_multiview_depth",
        settings=f"{_PKG}.settings:MultiViewDepthSettings",
        weights="none of its own: those of the chosen image encoder (default: the image modality's)",
        summary="PointCLIP-style: 6 projected depth views seen by a registered image encoder, pooled",
    ))
    register(EncoderSpec(
        name="pointnet2", modality="pointcloud", dim=None, frozen=False, pretrained=False,
        factory=f"{_PKG}.pointnet2:build_pointnet2",
        settings=f"{_PKG}.settings:PointNet2Settings",
        weights="none ship: random init to be trained; loads a local safetensors file (weights=...)",
        summary="PointNet++ set abstraction (FPS + ball query), trainable, 1024-d at width 1",
    ))


@hookimpl
def unibind_commands(cli):
    from unibind_plugin_pointcloud.cli import fps_command

    bench = cli.commands.get("bench") if hasattr(cli, "commands") else None
    if bench is not None and hasattr(bench, "add_command"):
        bench.add_command(fps_command)
