"""Settings of the thermal loader, the thermal normalisation and the thermal encoders.

Only pydantic here: the specs name these models as ``"module:attr"`` and
``unibind list-plugins`` may import them to show their fields, so importing
this module must stay cheap (no numpy, PIL, matplotlib or torch).

The split follows the data: the **loader** decides what the numbers in a file
mean (raw counts, kelvin, or an intensity recovered from a colour map) and
never throws information away; the **normalisation** decides how those
numbers become the grey picture an image encoder sees.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from unibind.limits import max_image_pixels

#: FLIR "TLinear" radiometric output (Lepton 3.5, Boson, A/T-series streams): kelvin = counts * 0.01.
TLINEAR_KELVIN_PER_COUNT = 0.01
ZERO_CELSIUS = 273.15


class ThermalLoadSettings(BaseModel):
    """How one thermal file becomes a :class:`~unibind_plugin_thermal.frame.ThermalFrame`.

    Defaults keep the file's own numbers: 8/16-bit counts stay counts (no
    rounding, no rescaling), float TIFFs are read as degrees Celsius (what
    radiometric exporters such as FLIR Thermal Studio and the DJI Thermal SDK
    write) and stored in kelvin, colour renderings become luminance.
    """

    model_config = ConfigDict(extra="forbid")

    radiometric: Literal["counts", "kelvin"] = Field(
        default="counts",
        description="What 16-bit integer data becomes. 'counts': the raw sensor counts, unchanged "
        "(the calibration below still travels with the frame, so a fixed temperature window works). "
        "'kelvin': converted once with kelvin = counts * kelvin_scale + kelvin_offset.",
    )
    kelvin_scale: float = Field(
        default=TLINEAR_KELVIN_PER_COUNT, gt=0,
        description="Kelvin per count of 16-bit radiometric data. 0.01 is FLIR's TLinear high-resolution "
        "mode (Lepton 3.5, Boson radiometric); use 0.1 for TLinear low-resolution mode.",
    )
    kelvin_offset: float = Field(
        default=0.0, description="Kelvin at count 0 (0 for TLinear; some cameras store centikelvin "
        "above an offset, e.g. -273.15 to read counts as centi-degrees Celsius).",
    )
    float_unit: Literal["celsius", "kelvin"] = Field(
        default="celsius", description="Unit of float TIFFs (temperature maps from radiometric exporters).",
    )
    colormap: str | None = Field(
        default=None,
        description="Off by default. For colour (RGB) renderings: the name of the matplotlib colour map "
        "they were drawn with (e.g. 'inferno', 'magma', 'plasma', 'turbo'; iron/ironbow palettes are "
        "closest to 'inferno'; add '_r' for reversed maps). Each pixel becomes the position of the nearest "
        "colour in that map's 256-entry table, an intensity in [0, 1] (0 = the map's first colour). "
        "None: colour renderings become ITU-R 601 luminance, as ImageBind's convert('L') does.",
    )
    max_colour_error: float = Field(
        default=0.1, gt=0,
        description="With a colormap: refuse the file when the mean distance (RGB in [0, 1], Euclidean) "
        "between its pixels and their nearest colour-map entry exceeds this: the picture was not drawn "
        "with that map. Overlays (text, crosshairs, scale bars) on a few pixels stay under it.",
    )
    frame: int = Field(default=0, ge=0, description="Which page of a multi-page TIFF to read.")
    max_pixels: int = Field(
        default_factory=max_image_pixels, ge=1,
        description="Refuse images with more pixels than this, checked from the header before decoding "
        "(thermal sensors are at most a few megapixels; this guards against decompression bombs). "
        "Default: the pixel budget every image-backed reader shares, $UNIBIND_MAX_IMAGE_PIXELS or 64 million.",
    )


class ThermalNormalisation(BaseModel):
    """How a thermal frame becomes a grey picture in [0, 1] (white = hot by default).

    What ImageBind does: its thermal tower (trained on LLVIP) takes a
    single-channel picture: ``Image.open(f).convert("L")``, resize of the short
    side to 224 (bicubic), centre crop 224, ``ToTensor`` (8-bit / 255) and
    ``Normalize((0.5,), (0.5,))``, i.e. [-1, 1]; its patch embedding has one
    input channel. Image encoders take three, so the grey channel is
    replicated (as LanguageBind does for thermal). ``contrast='auto'`` follows
    ImageBind for 8-bit data (/255) but stretches 16-bit and temperature data
    between percentiles: ``convert("L")`` would clip 16-bit counts at 255 and
    leave a white picture.
    """

    model_config = ConfigDict(extra="forbid")

    contrast: Literal["auto", "percentile", "window", "bit_depth"] = Field(
        default="auto",
        description="'auto': 8-bit counts / 255 and colour-map intensities as they are (ImageBind-style); "
        "16-bit counts and temperatures by 'percentile'. 'percentile': stretch each frame's "
        "low_percentile..high_percentile to 0..1 (robust to a few hot or dead pixels). 'window': a fixed "
        "temperature window window_min_k..window_max_k, the same in every frame (needs radiometric "
        "16-bit or float data). 'bit_depth': counts / (2**bits - 1), the whole sensor range.",
    )
    low_percentile: float = Field(default=1.0, ge=0, lt=100, description="Percentile that becomes black.")
    high_percentile: float = Field(default=99.0, gt=0, le=100, description="Percentile that becomes white.")
    window_min_k: float = Field(
        default=263.15, gt=0, description="Kelvin shown black with contrast='window' (default -10 °C)."
    )
    window_max_k: float = Field(
        default=323.15, gt=0, description="Kelvin shown white with contrast='window' (default 50 °C)."
    )
    white_hot: bool = Field(
        default=True, description="Hot is white (True, the usual 'white-hot' palette) or black ('black-hot')."
    )

    @model_validator(mode="after")
    def _ordered(self) -> ThermalNormalisation:
        if self.low_percentile >= self.high_percentile:
            raise ValueError(f"low_percentile ({self.low_percentile}) must be below "
                             f"high_percentile ({self.high_percentile})")
        if self.window_min_k >= self.window_max_k:
            raise ValueError(f"window_min_k ({self.window_min_k}) must be below window_max_k "
                             f"({self.window_max_k})")
        return self


_INPUT_NORM = (
    "'imagebind': resize the short side of the grey picture to input_size (bicubic, antialiased, in "
    "float: no 8-bit rounding of 16-bit data), centre crop, (x - 0.5) / 0.5, replicate to 3 channels. "
    "'encoder': draw an 8-bit RGB grey picture and use the image encoder's own preprocessing "
    "(its resize, crop, mean and std)."
)


class ThermalImageSettings(ThermalNormalisation):
    """The default thermal encoder: any registered image encoder sees the normalised frame.

    With the default image encoder (EfficientNet-Lite0, whose weights expect
    [-1, 1] inputs) the ImageBind-style 0.5/0.5 input normalisation is exactly
    the one its weights were trained with.
    """

    image_encoder: str | None = Field(
        default=None,
        description="Registered image encoder that sees the frame; None: the image modality's default.",
    )
    image_encoder_settings: dict[str, Any] = Field(
        default_factory=dict, description="Settings passed to that image encoder."
    )
    input_norm: Literal["imagebind", "encoder"] = Field(default="imagebind", description=_INPUT_NORM)
    input_size: int = Field(default=224, ge=8, description="Side of the square input with input_norm='imagebind'.")


class HFThermalSettings(ThermalNormalisation):
    """A Hugging Face CLIP/SigLIP image tower on the normalised frame (built as the 'hf-vision' encoder)."""

    model: str = Field(description="Hub name or local directory of a model with get_image_features.")
    local_files_only: bool = Field(
        default=False, description="Never touch the network (set automatically for local paths)."
    )
    normalize: bool = Field(default=True, description="L2-normalise the projected features.")
    input_norm: Literal["imagebind", "encoder"] = Field(
        default="encoder",
        description=_INPUT_NORM + " Default 'encoder': CLIP/SigLIP weights expect their processor's mean/std.",
    )
    input_size: int = Field(default=224, ge=8, description="Side of the square input with input_norm='imagebind'.")

