"""The saccade simulator behaves like a DVS pixel array looking at a moving real MNIST digit.

All recordings here are simulated (from real MNIST digits), not sensor data.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from unibind.datasets import mnist_digits
from unibind_plugin_event.simulate import SaccadeSettings, simulate_saccades

CLEAN = SaccadeSettings(noise_hz=0.0, threshold_sigma=0.0)


@cache
def _mnist() -> np.ndarray:
    return mnist_digits()[0]


def _digit(index: int = 0) -> np.ndarray:
    return _mnist()[index]


def test_simulated_events_are_ordered_and_span_three_saccades() -> None:
    events = simulate_saccades(_digit(), np.random.default_rng(0), CLEAN)
    t = events["t"]
    assert np.all(np.diff(t) >= 0) and t.min() >= 0 and t.max() <= 3 * CLEAN.saccade_us
    per_saccade = np.histogram(t, bins=3, range=(0, 3 * CLEAN.saccade_us))[0]
    print(f"\nsimulated digit: {len(events)} events, per saccade {per_saccade.tolist()}")
    assert np.all(per_saccade > 0.1 * len(events))  # each saccade makes its share of events
    assert set(np.unique(events["p"]).tolist()) == {0, 1}
    assert 0.3 < events["p"].mean() < 0.7  # edges move both ways: ON and OFF both


def test_a_closed_saccade_loop_leaves_each_pixel_where_it_started() -> None:
    """Log intensity returns to its start, so each pixel's ON minus OFF count is within one threshold of 0."""
    events = simulate_saccades(_digit(1), np.random.default_rng(0), CLEAN)
    net = np.zeros(CLEAN.sensor[::-1], dtype=np.int64)
    np.add.at(net, (events["y"], events["x"]), np.where(events["p"] > 0, 1, -1))
    assert np.abs(net).max() <= 1
    assert np.count_nonzero(np.bincount(events["y"] * 34 + events["x"], minlength=34 * 34)) > 100


def test_events_come_from_the_digit_strokes_only() -> None:
    """With no noise, pixels the digit never covers emit nothing."""
    digit = _digit(2)
    events = simulate_saccades(digit, np.random.default_rng(0), CLEAN)
    rows, cols = np.nonzero(digit > 0)
    # the digit's top-left offset moves within the triangle's bounds (0..6 in x, 0..5 in y), plus 1 for bilinear
    assert events["x"].min() >= cols.min() and events["x"].max() <= cols.max() + 7
    assert events["y"].min() >= rows.min() and events["y"].max() <= rows.max() + 6


def test_contrast_threshold_sets_the_event_count() -> None:
    digit = _digit(3)
    counts = [len(simulate_saccades(digit, np.random.default_rng(0), CLEAN.model_copy(update={"threshold": c})))
              for c in (0.15, 0.3, 0.6)]
    print(f"\nsimulated events at contrast thresholds 0.15, 0.3, 0.6: {counts}")
    assert counts[0] > counts[1] > counts[2] > 0
    assert 1.5 < counts[0] / counts[1] < 2.5  # about inversely proportional, as a DVS


def test_noise_hot_pixels_and_refractory_period() -> None:
    digit = _digit(4)
    clean = simulate_saccades(digit, np.random.default_rng(0), CLEAN)
    noisy = simulate_saccades(digit, np.random.default_rng(0), CLEAN.model_copy(update={"noise_hz": 50.0}))
    expected_noise = 50.0 * 34 * 34 * 0.3
    assert abs((len(noisy) - len(clean)) - expected_noise) < 5 * np.sqrt(expected_noise)
    hot = simulate_saccades(digit, np.random.default_rng(0), CLEAN.model_copy(update={"hot_pixels": 2}))
    per_pixel = np.bincount(hot["y"] * 34 + hot["x"], minlength=34 * 34)
    assert np.sort(per_pixel)[-2] >= 2000 * 0.3 - 1  # two pixels at 2 kHz for 0.3 s
    dead = simulate_saccades(digit, np.random.default_rng(0), CLEAN.model_copy(update={"refractory_us": 5_000}))
    assert len(dead) < len(clean)
    for pixel in np.unique(dead["y"] * 34 + dead["x"])[:50]:
        times = dead["t"][dead["y"] * 34 + dead["x"] == pixel]
        assert np.all(np.diff(times) > 5_000)


def test_same_seed_same_recording() -> None:
    a = simulate_saccades(_digit(5), np.random.default_rng(7))
    b = simulate_saccades(_digit(5), np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
