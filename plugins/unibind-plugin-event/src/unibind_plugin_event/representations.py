"""Event stream -> ``[n_frames, 2, H, W]`` maps of ON and OFF activity in [0, 1], built with tonic.

Every representation ends in the same shape, channel 0 for ON (brighter)
and channel 1 for OFF (darker) events, so one colour rule (:mod:`render`)
draws them all. tonic orders polarity channels OFF, ON (by the value of p);
they are swapped here once.

- ``eventclip``: per-slice ON/OFF event counts (tonic ``ToFrame``), hot pixels
  removed the way EventCLIP does (more events than mean + k std of the active
  pixels; found and zeroed with tonic's raster hot-pixel functions), divided by
  the slice's maximum.
- ``frame``: tonic ``ToFrame`` counts divided by a high percentile and clipped.
- ``image``: tonic's slicers cut the stream, tonic ``ToImage`` counts each slice.
- ``voxel``: tonic ``ToVoxelGrid`` (polarity-signed, bilinear in time); positive
  part is ON, negative part OFF.
- ``timesurface``: tonic ``ToTimesurface`` at the end of each slice
  (``exp(-(t_end - t_last) / tau)`` per pixel and polarity).
"""

from __future__ import annotations

import math

import numpy as np

from unibind_plugin_event.events import EventStream
from unibind_plugin_event.settings import EventRenderSettings, render_bytes

ON, OFF = 0, 1  # channels of the output
_TONIC_OFF, _TONIC_ON = 0, 1  # tonic's polarity channels: index = p


def filtered(stream: EventStream, settings: EventRenderSettings) -> np.ndarray:
    """The stream's events after the optional tonic filters (denoise, hot pixels by firing rate)."""
    import tonic.transforms as T

    events = stream.events
    if settings.denoise_us is not None and len(events):
        events = T.Denoise(filter_time=settings.denoise_us)(events)
    if settings.hot_pixel_hz is not None and len(events) > 1 and events["t"][-1] > events["t"][0]:
        events = T.DropPixel(hot_pixel_frequency=settings.hot_pixel_hz)(events)
    return events


def binning(width: int, height: int, settings: EventRenderSettings) -> int:
    """The smallest k such that rendering a (width/k) x (height/k) sensor fits ``render_memory_mb``."""
    budget = settings.render_memory_mb * 1e6
    k = 1
    while render_bytes(-(-width // k), -(-height // k), settings.n_frames) > budget:
        k += 1 if k < 8 else k // 4
    return k


def within_budget(stream: EventStream, settings: EventRenderSettings) -> EventStream:
    """The stream itself, or binned k x k (x // k, y // k) onto a smaller sensor when it must be.

    The loader caps sensors (``max_sensor_size``), but streams also come from
    memory with any coordinates; this keeps every renderer within its budget.
    """
    k = binning(stream.width, stream.height, settings)
    if k == 1:
        return stream
    events = stream.events.copy()
    events["x"] //= k
    events["y"] //= k
    size = (-(-stream.width // k), -(-stream.height // k))
    note = "; ".join(n for n in (stream.note, f"binned {k}x{k} to fit render_memory_mb") if n)
    return EventStream(events, size, stream.source, stream.events_in_file, note)


def event_maps(stream: EventStream, settings: EventRenderSettings | None = None) -> np.ndarray:
    """``[n_frames, 2, height, width]`` float32 in [0, 1]: ON and OFF activity per time slice.

    ``height`` and ``width`` are the sensor's, divided by :func:`binning`'s k
    when a full-size rendering would not fit ``render_memory_mb``.
    """
    settings = settings or EventRenderSettings()
    stream = within_budget(stream, settings)
    events = filtered(stream, settings)
    n = settings.n_frames
    shape = (n, 2, stream.height, stream.width)
    if len(events) == 0:
        return np.zeros(shape, np.float32)
    duration = int(events["t"][-1] - events["t"][0])
    sensor = (stream.width, stream.height, 2)
    if len(events) < n or duration < n:
        # too short to slice: every slice sees the whole stream
        single = settings.model_copy(update={"n_frames": 1, "slice_by": "events"})
        one = _BUILDERS[settings.representation](events.copy(), sensor, single, duration)
        return np.repeat(_exactly(one, 1, shape[1:]), n, axis=0)
    maps = _BUILDERS[settings.representation](events.copy(), sensor, settings, duration)
    return _exactly(maps, n, shape[1:])


def _exactly(maps: np.ndarray, n: int, frame_shape: tuple[int, ...]) -> np.ndarray:
    """Trim or pad (with empty slices) to exactly ``n`` slices; float32 in [0, 1]."""
    maps = np.asarray(maps, dtype=np.float32)[:n]
    if len(maps) < n:
        maps = np.concatenate([maps, np.zeros((n - len(maps), *frame_shape), np.float32)])
    return np.clip(maps, 0.0, 1.0)


def _on_off(tonic_maps: np.ndarray) -> np.ndarray:
    """tonic's (OFF, ON) channel order to ours (ON, OFF)."""
    return tonic_maps[:, [_TONIC_ON, _TONIC_OFF]].astype(np.float32)


def _scale(maps: np.ndarray, percentile: float) -> np.ndarray:
    """Divide each slice by a percentile of its active values, so a few busy pixels do not dominate."""
    out = np.empty_like(maps, dtype=np.float32)
    for i, frame in enumerate(maps):
        active = frame[frame > 0]
        level = np.percentile(active, percentile) if active.size else 1.0
        out[i] = frame / max(float(level), 1e-12)
    return out


def _counts(events: np.ndarray, sensor, settings: EventRenderSettings, duration: int) -> np.ndarray:
    import tonic.transforms as T

    if settings.slice_by == "events":
        return T.ToFrame(sensor_size=sensor, n_event_bins=settings.n_frames)(events)
    return T.ToFrame(sensor_size=sensor, n_time_bins=settings.n_frames)(events)


def _eventclip(events: np.ndarray, sensor, settings: EventRenderSettings, duration: int) -> np.ndarray:
    from tonic.functional.drop_pixel import drop_pixel_raster, identify_hot_pixel_raster

    counts = _on_off(_counts(events, sensor, settings, duration))
    for frame in counts:
        if settings.hot_pixel_sigma is not None:
            merged = frame.sum(axis=0)
            active = merged[merged > 0]
            if active.size > 1:
                limit = active.mean() + settings.hot_pixel_sigma * active.std()
                drop_pixel_raster(frame, identify_hot_pixel_raster(frame, limit))
        peak = frame.max()
        if peak > 0:
            frame /= peak
    return counts


def _frame(events: np.ndarray, sensor, settings: EventRenderSettings, duration: int) -> np.ndarray:
    return _scale(_on_off(_counts(events, sensor, settings, duration)), settings.frame_percentile)


def _image(events: np.ndarray, sensor, settings: EventRenderSettings, duration: int) -> np.ndarray:
    import tonic.transforms as T
    from tonic.slicers import slice_events_by_event_bins, slice_events_by_time_bins

    cut = slice_events_by_event_bins if settings.slice_by == "events" else slice_events_by_time_bins
    to_image = T.ToImage(sensor_size=sensor)
    images = [to_image(part) if len(part) else np.zeros(sensor[::-1], np.int16)
              for part in cut(events, settings.n_frames)]
    return _scale(_on_off(np.stack(images)), settings.frame_percentile)


def _voxel(events: np.ndarray, sensor, settings: EventRenderSettings, duration: int) -> np.ndarray:
    import tonic.transforms as T

    if duration == 0:  # tonic divides by the duration; with none, every event falls in the first bin
        counts = _on_off(_counts(events, sensor, settings.model_copy(update={"slice_by": "events"}), 1))
        net = (counts[:, ON] - counts[:, OFF])[:, None]
        return _scale(np.concatenate([np.maximum(net, 0), np.maximum(-net, 0)], axis=1), settings.frame_percentile)
    grid = T.ToVoxelGrid(sensor_size=sensor, n_time_bins=settings.n_frames)(events)[:, 0]
    signed = np.stack([np.maximum(grid, 0), np.maximum(-grid, 0)], axis=1)
    return _scale(signed, settings.frame_percentile)


def _timesurface(events: np.ndarray, sensor, settings: EventRenderSettings, duration: int) -> np.ndarray:
    from tonic.functional import to_timesurface_numpy

    dt = max(1, math.ceil(duration / settings.n_frames))
    tau = settings.timesurface_tau_us or dt / 3
    surfaces = to_timesurface_numpy(events, sensor_size=sensor, dt=dt, tau=tau, include_incomplete=True)
    return _on_off(surfaces)


_BUILDERS = {"eventclip": _eventclip, "frame": _frame, "image": _image, "voxel": _voxel,
             "timesurface": _timesurface}
