"""Simulated event-camera recordings of real MNIST digits, made the way N-MNIST was recorded.

No real event-camera data ships in any package, so tests and benchmarks use
this simulator; whatever it makes is *simulated* and is named so.

N-MNIST (Orchard et al., 2015) was recorded by an ATIS sensor on a pan-tilt
unit looking at MNIST digits on a monitor, moved through three quick
saccades along a triangle, about 100 ms each, onto a 34x34 pixel crop. Here
the digit image is moved across a 34x34 sensor along the same kind of path
(smooth start and stop on each side of the triangle), sampled every
``step_us``. Each pixel works like a DVS pixel: it remembers the log
intensity at its last event and emits an event each time the log intensity
moves a contrast threshold away from it (ON when brighter, OFF when darker),
with the event's time interpolated within the step where the crossing
happens. Thresholds vary a little from pixel to pixel; an optional
refractory period (tonic's RefractoryPeriod), background-activity noise and
hot pixels make it less clean.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from unibind_plugin_event.events import EVENT_DTYPE, make_events

NMNIST_SENSOR = (34, 34)


class SaccadeSettings(BaseModel):
    """Parameters of the simulated sensor and of the saccade motion (defaults: N-MNIST-like)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sensor: tuple[int, int] = Field(default=NMNIST_SENSOR, description="Sensor (width, height) in pixels.")
    triangle: tuple[tuple[float, float], ...] = Field(
        default=((0.0, 5.0), (3.0, 0.0), (6.0, 5.0)),
        description="Corners (x, y) of the saccade path, in pixels of the digit's top-left offset; the "
                    "digit goes 0 -> 1 -> 2 -> 0, one saccade per side.",
    )
    saccade_us: int = Field(default=100_000, gt=0, description="Duration of one saccade, microseconds.")
    step_us: int = Field(default=1_000, gt=0, description="Time between simulated intensity frames.")
    threshold: float = Field(default=0.25, gt=0, description="Contrast threshold on log intensity.")
    threshold_sigma: float = Field(default=0.03, ge=0, description="Pixel-to-pixel spread of the threshold.")
    log_eps: float = Field(default=0.2, gt=0, description="log(eps + I), I in [0, 1]: the dark floor.")
    refractory_us: int = Field(default=0, ge=0, description="Per-pixel dead time after an event (0: none).")
    noise_hz: float = Field(default=0.2, ge=0, description="Background-activity events per pixel per second.")
    hot_pixels: int = Field(default=0, ge=0, description="Pixels that fire regardless of the scene.")
    hot_pixel_hz: float = Field(default=2_000.0, gt=0, description="Firing rate of each hot pixel.")


def _placed(digit: np.ndarray, offset: tuple[float, float], sensor: tuple[int, int]) -> np.ndarray:
    """The digit drawn on the sensor at a sub-pixel offset (bilinear), intensities in [0, 1]."""
    width, height = sensor
    h, w = digit.shape
    ox, oy = offset
    ix, iy = int(np.floor(ox)), int(np.floor(oy))
    fx, fy = ox - ix, oy - iy
    canvas = np.zeros((height + h + 2, width + w + 2), dtype=np.float64)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            if wx * wy:
                canvas[iy + dy:iy + dy + h, ix + dx:ix + dx + w] += wx * wy * digit
    return canvas[:height, :width]


def _path(settings: SaccadeSettings) -> Iterator[tuple[float, tuple[float, float]]]:
    """(time in us, offset) every step along the triangle, easing in and out of each corner."""
    corners = list(settings.triangle) + [settings.triangle[0]]
    steps = max(1, settings.saccade_us // settings.step_us)
    for side, (a, b) in enumerate(pairwise(corners)):
        for k in range(0 if side == 0 else 1, steps + 1):
            u = k / steps
            s = u * u * (3 - 2 * u)  # smoothstep: the unit speeds up and slows down
            t = side * settings.saccade_us + u * settings.saccade_us
            yield t, (a[0] + s * (b[0] - a[0]), a[1] + s * (b[1] - a[1]))


def simulate_saccades(image: np.ndarray, rng: np.random.Generator,
                      settings: SaccadeSettings | None = None) -> np.ndarray:
    """Simulated events (:data:`EVENT_DTYPE`, time-ordered) of one greyscale image moved in saccades."""
    settings = settings or SaccadeSettings()
    digit = np.asarray(image, dtype=np.float64)
    digit = digit / 255.0 if digit.max() > 1.0 else digit
    width, height = settings.sensor
    threshold = np.clip(rng.normal(settings.threshold, settings.threshold_sigma, (height, width)),
                        settings.threshold / 4, None)
    frames = iter(_path(settings))
    t_prev, offset = next(frames)
    log_prev = np.log(settings.log_eps + _placed(digit, offset, settings.sensor))
    reference = log_prev.copy()  # each pixel's log intensity at its last event
    parts = []
    for t_now, offset in frames:
        log_now = np.log(settings.log_eps + _placed(digit, offset, settings.sensor))
        change = log_now - reference
        count = np.floor(np.abs(change) / threshold).astype(np.int64)
        ys, xs = np.nonzero(count)
        if ys.size:
            n = count[ys, xs]
            sign = np.sign(change[ys, xs])
            ey, ex = np.repeat(ys, n), np.repeat(xs, n)
            esign = np.repeat(sign, n)
            k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n) + 1  # 1..n within each pixel
            level = reference[ey, ex] + esign * k * threshold[ey, ex]
            slope = log_now[ey, ex] - log_prev[ey, ex]
            with np.errstate(divide="ignore", invalid="ignore"):
                u = np.where(slope != 0, (level - log_prev[ey, ex]) / slope, 1.0)
            t = t_prev + np.clip(u, 0.0, 1.0) * (t_now - t_prev)
            parts.append(make_events(ex, ey, np.floor(t).astype(np.int64), (esign > 0).astype(np.int8)))
            reference[ys, xs] += sign * n * threshold[ys, xs]
        log_prev, t_prev = log_now, t_now
    duration = int(t_prev)
    parts += [_noise(rng, settings, duration), _hot_pixels(rng, settings, duration)]
    events = np.concatenate(parts) if parts else np.empty(0, EVENT_DTYPE)
    events = events[np.argsort(events["t"], kind="stable")]
    if settings.refractory_us and len(events):
        from tonic.functional import refractory_period_numpy

        events = refractory_period_numpy(events, settings.refractory_us)
    return events


def _noise(rng: np.random.Generator, settings: SaccadeSettings, duration: int) -> np.ndarray:
    """Background activity: events at random pixels and times, random polarity."""
    width, height = settings.sensor
    n = rng.poisson(settings.noise_hz * width * height * duration * 1e-6)
    return make_events(rng.integers(0, width, n), rng.integers(0, height, n),
                       rng.integers(0, max(duration, 1), n), rng.integers(0, 2, n))


def _hot_pixels(rng: np.random.Generator, settings: SaccadeSettings, duration: int) -> np.ndarray:
    """A few pixels that fire steadily whatever they see (faulty hardware)."""
    width, height = settings.sensor
    parts = []
    for _ in range(settings.hot_pixels):
        n = max(1, int(settings.hot_pixel_hz * duration * 1e-6))
        x, y = int(rng.integers(width)), int(rng.integers(height))
        parts.append(make_events(np.full(n, x), np.full(n, y), np.sort(rng.integers(0, max(duration, 1), n)),
                                 rng.integers(0, 2, n)))
    return np.concatenate(parts) if parts else np.empty(0, EVENT_DTYPE)


def simulated_nmnist(per_class: int, seed: int = 0, settings: SaccadeSettings | None = None,
                     classes: tuple[int, ...] = tuple(range(10))) -> tuple[list[np.ndarray], np.ndarray]:
    """Simulated N-MNIST-style recordings of real MNIST digits (``unibind.datasets.mnist_digits``).

    Returns ``per_class`` recordings of each digit class (different real digits,
    drawn without replacement) and their labels, class by class.
    """
    from unibind.datasets import mnist_digits

    images, labels = mnist_digits()
    rng = np.random.default_rng(seed)
    streams, out_labels = [], []
    for digit in classes:
        pool = np.flatnonzero(labels == digit)
        for index in rng.choice(pool, size=per_class, replace=False):
            streams.append(simulate_saccades(images[index], rng, settings))
            out_labels.append(digit)
    return streams, np.asarray(out_labels)
