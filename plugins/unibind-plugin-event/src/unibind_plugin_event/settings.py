"""Settings of the event loader, the event-render encoder and the event bridge adapter.

Only pydantic here: the specs name these models as ``"module:attr"`` and
``unibind list-plugins`` may import them to show their fields, so importing
this module must stay cheap (no numpy, tonic, h5py or torch).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator


#: Bytes one event takes in memory once loaded (x, y: int32; t: int64; p: int8).
EVENT_BYTES = 17
#: Largest sensor accepted by default: bigger than every event camera made (Prophesee IMX636 is
#: 1280x720, Samsung DVS-Gen4 1280x960), small enough that one sensor-sized map is cheap.
MAX_SENSOR_SIZE = (4096, 4096)
#: Bytes of working memory per sensor pixel per time slice while rendering (two polarity channels:
#: tonic's count or voxel map, our float32 copy, the scaled and clipped copies), and per pixel once
#: (the RGB drawing in float64 and 8-bit, the filters' per-pixel memory). Measured in the tests.
RENDER_BYTES_PER_PIXEL_SLICE = 40
RENDER_BYTES_PER_PIXEL = 96

Representation = Literal["eventclip", "frame", "image", "voxel", "timesurface"]


class EventLoadSettings(BaseModel):
    """How one event file becomes a validated, time-ordered stream of (x, y, t, p) events.

    Every format ends in the same form: x and y are pixel indices, t is integer
    microseconds, p is 1 for ON (brighter) and 0 for OFF (darker) events.
    """

    model_config = ConfigDict(extra="forbid")

    sensor_size: tuple[int, int] | None = Field(
        default=None,
        description="Sensor (width, height) in pixels. None: the size the file states (NPZ 'sensor_size', "
        "HDF5 'sensor_size' or 'width'/'height' attributes, AEDAT4 stream info), else the largest x and y "
        "plus one. Events outside it are an error. N-MNIST is (34, 34).",
    )
    max_sensor_size: tuple[int, int] = Field(
        default=MAX_SENSOR_SIZE,
        description="Largest sensor (width, height) accepted, checked before any event is kept: a sensor "
        "size stated by the file or set above it, or (with no size stated) a coordinate beyond it, is an "
        "error naming the file. The default is larger than every real event camera.",
    )
    timestamp_order: Literal["reject", "sort"] = Field(
        default="reject",
        description="Timestamps that go backwards: 'reject' raises an error naming the first such event "
        "(a recording is time-ordered, so disorder usually means a damaged or mis-merged file); "
        "'sort' sorts the events by time (stable).",
    )
    time_unit: Literal["auto", "us", "ms", "s", "ns"] = Field(
        default="auto",
        description="Unit of the file's timestamps. 'auto': integers are microseconds (tonic, N-MNIST, "
        "AEDAT4, Prophesee), floats are seconds (text and rpg-style recordings).",
    )
    columns: str | None = Field(
        default=None,
        description="Field order of a plain 2-D (N, 4) array, which has no field names, e.g. 'txyp' or "
        "'xytp'. None: such arrays are refused, since the order cannot be guessed safely.",
    )
    hdf5_path: str | None = Field(
        default=None,
        description="HDF5 group holding x, y, t, p datasets, or one compound / (N, 4) dataset. None: try "
        "'/events', then the root group, then a compound dataset '/events' or '/CD/events'.",
    )
    memory_budget_mb: float = Field(
        default=64.0, gt=0,
        description=f"Most memory the loaded events may take ({EVENT_BYTES} bytes per event, so 64 MB is "
        "about 3.9 million events). Longer streams are read in chunks and cut as `long_streams` says; "
        "they are never loaded whole.",
    )
    long_streams: Literal["spread", "first"] = Field(
        default="spread",
        description="What a stream longer than the budget keeps: 'spread' reads it chunk by chunk and keeps "
        "every k-th event, so the whole recording is seen at lower density; 'first' keeps the first events "
        "that fit and stops reading (fastest).",
    )
    window_start_us: int | None = Field(
        default=None, ge=0,
        description="Keep only events from this many microseconds after the first event. None: from the start.",
    )
    window_duration_us: int | None = Field(
        default=None, gt=0,
        description="Keep only this many microseconds of events (after window_start_us). None: to the end. "
        "With ordered timestamps, reading stops once the window is passed.",
    )
    chunk_events: int = Field(
        default=1_000_000, ge=1_000,
        description="Events read per chunk (h5py slices, memory-mapped .npy, streamed NPZ members, N-MNIST "
        "records, AEDAT4 packets).",
    )

    @field_validator("sensor_size", "max_sensor_size")
    @classmethod
    def _positive(cls, value: tuple[int, int] | None, info: ValidationInfo) -> tuple[int, int] | None:
        if value is not None and (value[0] < 1 or value[1] < 1):
            raise ValueError(f"{info.field_name} must be two positive integers (width, height), got {value}")
        return value

    @model_validator(mode="after")
    def _sensor_fits(self) -> EventLoadSettings:
        if self.sensor_size is not None and sensor_too_large(self.sensor_size, self.max_sensor_size):
            raise ValueError(f"sensor_size {self.sensor_size[0]}x{self.sensor_size[1]} is larger than "
                             f"max_sensor_size {self.max_sensor_size[0]}x{self.max_sensor_size[1]}")
        return self

    @field_validator("columns")
    @classmethod
    def _four_fields(cls, value: str | None) -> str | None:
        if value is not None and sorted(value) != sorted("xytp"):
            raise ValueError(f"columns must order the letters x, y, t, p (e.g. 'txyp'), got {value!r}")
        return value

    @property
    def max_events(self) -> int:
        """The memory budget as a number of events."""
        return max(1, int(self.memory_budget_mb * 1e6 // EVENT_BYTES))


def sensor_too_large(size: tuple[int, int], limit: tuple[int, int]) -> bool:
    return size[0] > limit[0] or size[1] > limit[1]


def render_bytes(width: int, height: int, n_frames: int) -> int:
    """Working memory of rendering one stream on a ``width`` x ``height`` sensor (see render_memory_mb)."""
    return width * height * (n_frames * RENDER_BYTES_PER_PIXEL_SLICE + RENDER_BYTES_PER_PIXEL)


class EventRenderSettings(BaseModel):
    """How an event stream becomes pictures for an image encoder, and how their features are pooled.

    The stream is cut into ``n_frames`` time slices; each slice becomes a
    two-channel (ON, OFF) map through one of tonic's representations, drawn
    as an RGB picture and embedded by the image encoder; the slice features are
    pooled over time into one vector.
    """

    model_config = ConfigDict(extra="forbid")

    image_encoder: str | None = Field(
        default=None,
        description="Registered image encoder that sees the renderings; None: the image modality's default.",
    )
    image_encoder_settings: dict[str, Any] = Field(
        default_factory=dict, description="Settings passed to that image encoder."
    )
    representation: Representation = Field(
        default="eventclip",
        description="eventclip: per-pixel ON/OFF counts (tonic ToFrame) with EventCLIP's hot-pixel removal "
        "and max normalisation; frame: tonic ToFrame counts scaled by their 99th percentile; image: tonic "
        "ToImage on each slice cut by tonic's slicers; voxel: tonic ToVoxelGrid (signed, time-interpolated); "
        "timesurface: tonic ToTimesurface (exponential decay of each pixel's last event).",
    )
    n_frames: int = Field(
        default=3, ge=1, le=64,
        description="Time slices per stream, each embedded separately and pooled. 3 matches the three "
        "saccades of N-MNIST / N-Caltech101 recordings.",
    )
    slice_by: Literal["time", "events"] = Field(
        default="time",
        description="time: slices of equal duration; events: slices of equal event count "
        "(eventclip, frame and image only).",
    )
    pooling: Literal["mean", "max"] = Field(
        default="mean", description="How the n_frames feature vectors become one."
    )
    colour: Literal["red-blue", "grey"] = Field(
        default="red-blue",
        description="red-blue: ON events red, OFF events blue, on white (EventCLIP's rendering; polarities "
        "stay apart and the result looks like a drawing on paper); grey: mid-grey background, ON brighter, "
        "OFF darker, the same value in R, G and B.",
    )
    hot_pixel_sigma: float | None = Field(
        default=10.0, gt=0,
        description="eventclip: per slice, pixels with more events than mean + sigma x std of the active "
        "pixels are hot (broken) and removed (tonic's raster hot-pixel functions). None: keep them.",
    )
    hot_pixel_hz: float | None = Field(
        default=None, gt=0,
        description="Any representation: drop pixels firing faster than this over the whole stream "
        "(tonic DropPixel hot_pixel_frequency). None: off.",
    )
    denoise_us: float | None = Field(
        default=None, gt=0,
        description="Drop events with no neighbour within 1 pixel in this many microseconds "
        "(tonic Denoise filter_time). None: off. tonic's filter is a Python loop: slow on long streams.",
    )
    timesurface_tau_us: float | None = Field(
        default=None, gt=0,
        description="timesurface: decay time constant in microseconds. None: a third of one slice's duration.",
    )
    render_memory_mb: float = Field(
        default=384.0, gt=0,
        description="Most working memory one stream's rendering may take, whatever its coordinates say "
        f"(about {RENDER_BYTES_PER_PIXEL_SLICE} bytes per sensor pixel per slice plus "
        f"{RENDER_BYTES_PER_PIXEL} per pixel). A sensor too large for it is binned: k x k pixels become "
        "one, with the smallest k that fits, before filtering and rendering (the image encoder resizes "
        "to about 224 px anyway). Real sensors at the default n_frames are never binned.",
    )
    frame_percentile: float = Field(
        default=99.0, gt=0, le=100,
        description="frame, image: counts are divided by this percentile of the active pixels' counts "
        "and clipped, so a few busy pixels do not wash out the rest.",
    )

    @model_validator(mode="after")
    def _slicing_fits(self) -> EventRenderSettings:
        if self.slice_by == "events" and self.representation in ("voxel", "timesurface"):
            raise ValueError(f"slice_by='events' does not apply to {self.representation!r}, "
                             "which tonic slices by time")
        return self
