"""tonic representations as ON/OFF maps, EventCLIP hot-pixel removal, filters, and the colour rule."""

from __future__ import annotations

import numpy as np
import pytest

from unibind_plugin_event.events import EVENT_DTYPE, EventStream
from unibind_plugin_event.render import colourise, render
from unibind_plugin_event.representations import OFF, ON, event_maps
from unibind_plugin_event.settings import EventRenderSettings
from unibind_plugin_event.simulate import NMNIST_SENSOR, SaccadeSettings, simulate_saccades

REPRESENTATIONS = ("eventclip", "frame", "image", "voxel", "timesurface")


def _moving_bar(polarity: int = 1, width: int = 32, height: int = 16) -> EventStream:
    """A vertical edge sweeping left to right at constant speed: x grows with t."""
    xs = np.repeat(np.arange(width), height)
    ys = np.tile(np.arange(height), width)
    events = np.empty(len(xs), dtype=EVENT_DTYPE)
    events["x"], events["y"], events["t"], events["p"] = xs, ys, xs * 1000 + ys, polarity
    return EventStream(events, (width, height))


@pytest.mark.parametrize("representation", REPRESENTATIONS)
def test_every_representation_gives_n_on_off_maps(simulated_digit, representation: str) -> None:
    settings = EventRenderSettings(representation=representation, n_frames=4)
    maps = event_maps(EventStream(simulated_digit, NMNIST_SENSOR), settings)
    assert maps.shape == (4, 2, 34, 34) and maps.dtype == np.float32
    assert np.isfinite(maps).all() and maps.min() >= 0 and maps.max() <= 1
    assert (maps[:, ON] > 0).any() and (maps[:, OFF] > 0).any()
    assert all((frame > 0).sum() > 20 for frame in maps.sum(axis=1))  # every slice sees the digit


@pytest.mark.parametrize("representation", REPRESENTATIONS)
def test_slices_follow_time(representation: str) -> None:
    """The sweeping edge's activity moves right from slice to slice; ON events stay in the ON channel."""
    maps = event_maps(_moving_bar(), EventRenderSettings(representation=representation, n_frames=4))
    assert not maps[:, OFF].any()
    cols = np.arange(maps.shape[-1])
    if representation == "timesurface":  # the freshest column is brightest at each slice's end
        centres = [cols[frame.max(axis=0).argmax()] for frame in maps[:, ON]]
    else:
        centres = [(frame.sum(axis=0) * cols).sum() / frame.sum() for frame in maps[:, ON]]
    assert np.all(np.diff(centres) > 4), centres


def test_off_events_fill_the_off_channel() -> None:
    for representation in REPRESENTATIONS:
        maps = event_maps(_moving_bar(polarity=0), EventRenderSettings(representation=representation))
        assert maps[:, OFF].any() and not maps[:, ON].any(), representation


def test_eventclip_removes_hot_pixels(simulated_digit) -> None:
    """Two simulated hot pixels at 2 kHz swamp the normalisation unless removed."""
    sim = SaccadeSettings(hot_pixels=2)
    events = simulate_saccades(np.zeros((28, 28)), np.random.default_rng(1), sim)  # hot pixels, a blank page
    hot = np.unique(events["y"] * 34 + events["x"], return_counts=True)
    hot_pixels = hot[0][hot[1] > 100]
    merged = np.sort(np.concatenate([simulated_digit, events]), order="t")
    stream = EventStream(merged, NMNIST_SENSOR)
    kept = event_maps(stream, EventRenderSettings(n_frames=1, hot_pixel_sigma=None))[0].sum(axis=0).ravel()
    removed = event_maps(stream, EventRenderSettings(n_frames=1))[0].sum(axis=0).ravel()
    print(f"\nmean activity of the digit pixels: hot pixels kept {kept.mean():.3f}, removed {removed.mean():.3f}")
    assert np.all(kept[hot_pixels] >= 0.5) and np.all(removed[hot_pixels] == 0)
    assert removed.mean() > 3 * kept.mean()  # the digit is visible again


def test_tonic_filters_drop_hot_pixels_and_isolated_noise(simulated_digit) -> None:
    clean_sim = SaccadeSettings(noise_hz=0.0)
    noisy_sim = SaccadeSettings(noise_hz=5.0, hot_pixels=1)
    from unibind.datasets import mnist_digits

    digit = mnist_digits()[0][7]
    clean = simulate_saccades(digit, np.random.default_rng(2), clean_sim)
    noisy = EventStream(simulate_saccades(digit, np.random.default_rng(2), noisy_sim), NMNIST_SENSOR)
    strokes = np.zeros(34 * 34, bool)
    strokes[np.unique(clean["y"] * 34 + clean["x"])] = True

    def off_stroke_share(settings: EventRenderSettings) -> float:
        activity = event_maps(noisy, settings)[0].sum(axis=0).ravel()
        return activity[~strokes].sum() / activity.sum()

    plain = off_stroke_share(EventRenderSettings(representation="frame", n_frames=1))
    filtered = off_stroke_share(EventRenderSettings(representation="frame", n_frames=1, denoise_us=5_000,
                                                    hot_pixel_hz=500))
    print(f"\nshare of activity off the digit's strokes: {plain:.3f} plain, {filtered:.3f} after tonic "
          "Denoise + DropPixel")
    assert filtered < plain / 2


@pytest.mark.parametrize("representation", REPRESENTATIONS)
def test_degenerate_streams_render_without_nan(representation: str) -> None:
    one = np.array([(3, 4, 1000, 1)], dtype=EVENT_DTYPE)
    same_time = np.array([(1, 1, 50, 0), (2, 2, 50, 1), (3, 3, 50, 1)], dtype=EVENT_DTYPE)
    for events in (one, same_time, np.empty(0, EVENT_DTYPE)):
        maps = event_maps(EventStream(events, (8, 6)), EventRenderSettings(representation=representation))
        assert maps.shape == (3, 2, 6, 8) and np.isfinite(maps).all()
        assert maps.any() == bool(len(events))


def test_colour_rules() -> None:
    maps = np.zeros((2, 1, 4), np.float32)
    maps[ON, 0, 1] = 1.0  # pure ON
    maps[OFF, 0, 2] = 1.0  # pure OFF
    maps[ON, 0, 3] = maps[OFF, 0, 3] = 0.5  # both
    rgb = colourise(maps, "red-blue")
    np.testing.assert_allclose(rgb[0], [[1, 1, 1], [1, 0, 0], [0, 0, 1], [0.5, 0, 0.5]])
    grey = colourise(maps, "grey")
    np.testing.assert_allclose(grey[0, :, 0], [0.5, 1.0, 0.0, 0.5])
    assert np.all(grey[..., 0] == grey[..., 2])


def test_render_gives_one_sensor_sized_rgb_picture_per_slice(simulated_digit) -> None:
    pictures = render(EventStream(simulated_digit, NMNIST_SENSOR), EventRenderSettings(n_frames=3))
    assert len(pictures) == 3 and all(p.mode == "RGB" and p.size == NMNIST_SENSOR for p in pictures)
    corner = np.asarray(pictures[0])[0, 0]
    assert corner.tolist() == [255, 255, 255] or np.asarray(pictures[0]).mean() > 200  # a white page


def test_render_settings_are_checked() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="slice_by='events' does not apply to 'voxel'"):
        EventRenderSettings(representation="voxel", slice_by="events")
