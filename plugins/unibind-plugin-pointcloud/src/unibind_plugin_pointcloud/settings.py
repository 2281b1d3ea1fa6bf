"""Settings of the point-cloud loader and encoders, importing only pydantic.

The specs name these models as ``"module:attr"`` and ``unibind list-plugins``
may import them to show their fields, so this module must stay cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FpsBackend = Literal["auto", "torch", "fpsample", "pointnet2_ops"]

#: The six axis-aligned views of PointCLIP: front, back, left, right, top, bottom, as (azimuth, elevation).
SIX_VIEWS: tuple[tuple[float, float], ...] = ((0, 0), (180, 0), (90, 0), (270, 0), (0, 90), (0, -90))


class PointCloudLoadSettings(BaseModel):
    """How one file becomes one point cloud (points, optional normals and colours)."""

    model_config = ConfigDict(extra="forbid")

    max_points: int = Field(
        default=2_000_000, ge=1,
        description="Point budget. Larger clouds are cut to an evenly strided subset of this many points "
                    "while reading (binary PLY/PCD and NPY are memory-mapped, text formats and NPZ are "
                    "streamed), so a huge scan is never loaded whole. LZF-compressed PCD cannot be read "
                    "in part and is refused above the budget.",
    )
    mesh_sampling: Literal["surface", "vertices"] = Field(
        default="surface",
        description="Meshes (OFF, PLY with faces): 'surface' samples points on the faces, each face "
                    "chosen in proportion to its area (as ModelNet point sets are made); 'vertices' "
                    "keeps the mesh vertices as the cloud.",
    )
    surface_points: int = Field(
        default=10_000, ge=1, description="Points sampled on a mesh surface when mesh_sampling='surface'."
    )
    seed: int = Field(default=0, description="Seed of the surface sampling, so a file always gives the same cloud.")
    drop_non_finite: bool = Field(
        default=True,
        description="Drop points with a NaN or infinite coordinate (organised LiDAR/PCD scans mark "
                    "missing returns that way). False: refuse such files. A file with no finite point "
                    "is always refused.",
    )
    min_points: int = Field(default=1, ge=1, description="Refuse clouds with fewer finite points than this.")
    text_columns: tuple[str, ...] | None = Field(
        default=None,
        description="Meaning of the columns of XYZ/TXT files and plain NPY/NPZ arrays, e.g. "
                    "('x','y','z','nx','ny','nz'); names other than x y z nx ny nz r g b are ignored "
                    "columns. None: guess (first three are x y z; a later triple of unit vectors is "
                    "normals, a triple within 0..1 or integers 0..255 is colours).",
    )

    @field_validator("text_columns")
    @classmethod
    def _has_xyz(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and not {"x", "y", "z"} <= set(value):
            raise ValueError(f"text_columns must name x, y and z, got {value}")
        return value


class PreprocessSettings(BaseModel):
    """Centring, unit-sphere scaling and farthest-point sampling before an encoder sees a cloud."""

    model_config = ConfigDict(extra="forbid")

    num_points: int = Field(default=1024, ge=1, description="Farthest-point sample this many points "
                                                           "(fewer points are repeated up to it).")
    centre: bool = Field(default=True, description="Move the centroid to the origin.")
    unit_sphere: bool = Field(default=True, description="Scale so the farthest point is at distance 1.")
    fps_backend: FpsBackend = Field(
        default="auto",
        description="Farthest-point sampling: 'torch' (pure torch, CPU or GPU), 'fpsample' (fast CPU "
                    "library), 'pointnet2_ops' (CUDA kernels, GPU only), 'auto': pointnet2_ops on a "
                    "CUDA tensor when importable, else fpsample, else torch. All start at index 0.",
    )


class MultiViewDepthSettings(PreprocessSettings):
    """PointCLIP-style projection of a cloud into depth pictures for an image encoder."""

    num_points: int = Field(default=2048, ge=1, description="Points projected (after farthest-point sampling).")
    image_encoder: str | None = Field(
        default=None,
        description="Registered image encoder that sees the depth pictures; None: the image modality's default.",
    )
    image_encoder_settings: dict[str, Any] = Field(
        default_factory=dict, description="Settings passed to that image encoder."
    )
    views: tuple[tuple[float, float], ...] = Field(
        default=SIX_VIEWS, min_length=1,
        description="Viewing directions as (azimuth, elevation) in degrees; the default is PointCLIP's "
                    "six axis views (front, back, left, right, top, bottom).",
    )
    pooling: Literal["mean", "max"] = Field(default="mean", description="How the views' features are pooled.")
    direct: bool = Field(
        default=True,
        description="When the image encoder declares its input size, mean and std (timm encoders do), "
                    "render at that size and normalise the depth pictures straight into its input, "
                    "skipping its picture transform (PIL, resize, centre crop): same network input "
                    "geometry, several times less preprocessing. False, or other encoders: each "
                    "picture goes through the image encoder's own preprocess.",
    )
    resolution: int | None = Field(
        default=None, ge=16,
        description="Side of the depth pictures in pixels; None: the image encoder's input size (224 if unknown).",
    )
    fill: float = Field(
        default=0.8, gt=0.1, le=1.0,
        description="Fraction of the picture the unit sphere spans; the margin keeps the image "
                    "encoder's centre crop from cutting the shape.",
    )
    point_size: int = Field(default=2, ge=0, le=16, description="Splat radius of each point in pixels.")
    smooth: bool = Field(default=True, description="Soften the splats with a 3x3 blur (PointCLIP V2's smoothing).")
    near_bright: float = Field(default=1.0, ge=0, le=1, description="Brightness of the nearest points.")
    far_bright: float = Field(default=0.3, ge=0, le=1,
                              description="Brightness of the farthest points (background is 0).")


class PointNet2Settings(PreprocessSettings):
    """A PointNet++ (single-scale grouping) set-abstraction encoder; trainable, no weights ship."""

    use_normals: bool = Field(default=False, description="Feed point normals as extra input features "
                                                         "(zeros when a cloud has none).")
    sa_points: tuple[int, int] = Field(default=(512, 128), description="Centres of the two local set-abstraction levels.")
    sa_radii: tuple[float, float] = Field(default=(0.2, 0.4), description="Ball-query radii of the two levels "
                                                                           "(the cloud is in the unit sphere).")
    sa_samples: tuple[int, int] = Field(default=(32, 64), description="Neighbours grouped per centre.")
    width: float = Field(default=1.0, gt=0, le=4,
                         description="Multiplier of every MLP width; the output is 1024 x width.")
    weights: Path | None = Field(
        default=None, description="Local safetensors file of trained weights (saved by save_weights); "
                                  "None: seeded random initialisation, to be trained.",
    )
    seed: int = Field(default=0, description="Seed of the random initialisation when no weights are given.")

    @model_validator(mode="after")
    def _levels_shrink(self) -> PointNet2Settings:
        if not self.num_points >= self.sa_points[0] >= self.sa_points[1]:
            raise ValueError(f"need num_points >= sa_points[0] >= sa_points[1], got {self.num_points}, "
                             f"{self.sa_points}")
        return self
