"""Settings of the depth loader and the depth-render encoder.

They live in their own module, importing only pydantic, because the spec names
them as ``"module:attr"`` and ``unibind list-plugins`` may import them to show
their fields: importing this module must stay cheap.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class DepthSettings(BaseModel):
    """How a raw depth file becomes metres.

    The defaults fit Kinect-v1 / NYU Depth v2 style data: 16-bit PNGs in
    millimetres, 0 where the sensor saw nothing, about 0.1-10 m usable range.
    """

    model_config = ConfigDict(extra="forbid")

    units_per_metre: float = Field(
        default=1000.0, gt=0,
        description="Integer depth (16-bit PNG, integer .npy) units per metre: 1000 for millimetres "
                    "(Kinect, NYU); TUM RGB-D uses 5000. Float .npy files are already metres.",
    )
    min_depth: float = Field(
        default=0.1, ge=0, description="Metres; nearer readings are invalid (the sensor's blind zone)."
    )
    max_depth: float = Field(
        default=10.0, gt=0, description="Metres; farther readings are invalid (beyond the sensor's range)."
    )
    invalid_value: float = Field(
        default=0.0, description="Raw value that means 'no reading' (before scaling to metres)."
    )

    @model_validator(mode="after")
    def _range_is_ordered(self) -> DepthSettings:
        if self.min_depth >= self.max_depth:
            raise ValueError(f"min_depth ({self.min_depth}) must be below max_depth ({self.max_depth})")
        return self


class DepthRenderSettings(BaseModel):
    """How a depth map is drawn as a picture for an image encoder.

    Near is bright by default, so that objects stand out against the
    background the way a lit foreground does in a photo.
    """

    model_config = ConfigDict(extra="forbid")

    image_encoder: str | None = Field(
        default=None,
        description="Registered image encoder that sees the rendering; None: the image modality's default.",
    )
    image_encoder_settings: dict[str, Any] = Field(
        default_factory=dict, description="Settings passed to that image encoder."
    )
    colormap: Literal["gray", "jet"] = Field(
        default="gray", description="gray: the same value in R, G and B; jet: blue-to-red colour ramp."
    )
    invert: bool = Field(default=True, description="Near is bright (True) or far is bright (False).")
    range: Literal["sample", "fixed"] = Field(
        default="sample",
        description="sample: stretch each map's own valid depths to [0, 1]; fixed: use near..far.",
    )
    near: float = Field(default=0.1, ge=0, description="Metres mapped to 0 when range='fixed'.")
    far: float = Field(default=10.0, gt=0, description="Metres mapped to 1 when range='fixed'.")
    clip_percent: float = Field(
        default=1.0, ge=0, lt=50,
        description="range='sample': ignore this percentage of the nearest and of the farthest "
                    "pixels when stretching, so a few outliers do not flatten the rest.",
    )

    @model_validator(mode="after")
    def _range_is_ordered(self) -> DepthRenderSettings:
        if self.near >= self.far:
            raise ValueError(f"near ({self.near}) must be below far ({self.far})")
        return self
