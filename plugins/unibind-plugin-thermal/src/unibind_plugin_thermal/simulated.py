"""Simulated radiometric thermal scenes, for tests, demos and benchmarks: no real thermal data ships.

A long-wave infrared camera (160x120 by default, like a FLIR Lepton 3.5, with
its 16-bit TLinear output of 0.01 K per count) looks at one warm body on a
~290 K scene: a standing **person** (skin ~308-310 K, clothes ~303-307 K), a
**car** seen from the side (body near ambient, a hot engine bay, warm tyres,
a hot exhaust, glass reflecting the cold sky) or a **dog** (fur ~303-307 K,
warmer head). The scene has a cold sky, a ground that warms towards the
camera and low-frequency texture. The sensor adds optical blur, vignetting,
column fixed-pattern noise, temporal noise (NETD ~50 mK) and a few stuck
pixels, then quantises to counts.

These are simulated frames, not recordings: say so wherever they are shown.
Run ``python -m unibind_plugin_thermal.simulated OUT_DIR`` to write a set.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from unibind_plugin_thermal.settings import TLINEAR_KELVIN_PER_COUNT

CLASSES = ("person", "car", "dog")
HEIGHT, WIDTH = 120, 160  # FLIR Lepton 3.5


def _ellipse(yy, xx, cy, cx, ry, rx) -> np.ndarray:
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0


def _rect(yy, xx, top, bottom, left, right) -> np.ndarray:
    return (yy >= top) & (yy <= bottom) & (xx >= left) & (xx <= right)


def _background(yy, xx, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Cold sky above a horizon, ground warming towards the camera, soft texture; returns kelvin and ambient."""
    h, w = yy.shape
    ambient = rng.uniform(286.0, 294.0)
    horizon = h * rng.uniform(0.25, 0.45)
    sky = ambient - rng.uniform(8.0, 18.0) + 2.0 * (yy / h)  # LWIR sky is cold, warmer near the horizon
    ground = ambient + rng.uniform(0.0, 3.0) * np.clip((yy - horizon) / (h - horizon), 0, 1)
    scene = np.where(yy < horizon, sky, ground)
    for _ in range(3):  # low-frequency texture: vegetation, paving, shadows
        fy, fx = rng.uniform(0.5, 3.0, size=2) / np.array([h, w])
        scene += rng.uniform(0.2, 0.8) * np.sin(2 * np.pi * (fy * yy + fx * xx) + rng.uniform(0, 2 * np.pi))
    return scene, ambient


def _person(scene, yy, xx, rng, ground_y, cx, scale) -> None:
    tall = scale * rng.uniform(0.55, 0.75) * yy.shape[0]
    top = ground_y - tall
    head_r = 0.075 * tall
    clothes = rng.uniform(303.0, 307.0)
    legs = _rect(yy, xx, top + 0.55 * tall, ground_y, cx - 0.11 * tall, cx - 0.02 * tall)
    legs |= _rect(yy, xx, top + 0.55 * tall, ground_y, cx + 0.02 * tall, cx + 0.11 * tall)
    arms = _rect(yy, xx, top + 0.2 * tall, top + 0.52 * tall, cx - 0.2 * tall, cx - 0.14 * tall)
    arms |= _rect(yy, xx, top + 0.2 * tall, top + 0.52 * tall, cx + 0.14 * tall, cx + 0.2 * tall)
    scene[legs] = clothes - rng.uniform(1.0, 3.0)
    scene[arms] = clothes - rng.uniform(0.0, 2.0)
    scene[_ellipse(yy, xx, top + 0.38 * tall, cx, 0.2 * tall, 0.14 * tall)] = clothes
    scene[_rect(yy, xx, top + 2 * head_r - 1, top + 2 * head_r + 0.05 * tall, cx - 0.03 * tall,
                cx + 0.03 * tall)] = rng.uniform(306.0, 309.0)  # neck
    scene[_ellipse(yy, xx, top + head_r, cx, head_r * 1.2, head_r)] = rng.uniform(308.0, 310.5)  # face skin


def _car(scene, yy, xx, rng, ground_y, cx, scale, ambient, facing) -> None:
    w = yy.shape[1]
    length = scale * rng.uniform(0.55, 0.75) * w
    body_h = length * rng.uniform(0.22, 0.28)
    wheel_r = body_h * 0.33
    bottom = ground_y - wheel_r * 0.8
    left, right = cx - length / 2, cx + length / 2
    scene[_rect(yy, xx, bottom - body_h, bottom, left, right)] = ambient + rng.uniform(1.0, 5.0)
    cab_l, cab_r = cx - length * 0.28, cx + length * 0.18
    if facing < 0:
        cab_l, cab_r = cx - length * 0.18, cx + length * 0.28
    scene[_rect(yy, xx, bottom - body_h * 1.7, bottom - body_h, cab_l, cab_r)] = ambient - rng.uniform(3.0, 8.0)
    front = right if facing > 0 else left
    hood = _rect(yy, xx, bottom - body_h * 0.95, bottom - body_h * 0.2,
                 min(front, front - facing * length * 0.3), max(front, front - facing * length * 0.3))
    scene[hood] = rng.uniform(320.0, 340.0)  # engine bay seen through the body panels
    for wx in (cx - length * 0.32, cx + length * 0.32):
        scene[_ellipse(yy, xx, ground_y - wheel_r, wx, wheel_r, wheel_r)] = rng.uniform(304.0, 314.0)
    rear = left if facing > 0 else right
    scene[_ellipse(yy, xx, bottom - body_h * 0.1, rear, body_h * 0.08, length * 0.03)] = rng.uniform(330.0, 360.0)


def _dog(scene, yy, xx, rng, ground_y, cx, scale, facing) -> None:
    w = yy.shape[1]
    length = scale * rng.uniform(0.28, 0.4) * w
    leg_h = length * rng.uniform(0.3, 0.4)
    body_cy = ground_y - leg_h - length * 0.14
    fur = rng.uniform(303.0, 307.0)
    for lx in (-0.38, -0.25, 0.25, 0.38):
        x = cx + lx * length
        scene[_rect(yy, xx, body_cy, ground_y, x - length * 0.04, x + length * 0.04)] = fur - rng.uniform(0.5, 2.5)
    tail_x = cx - facing * length * 0.55
    scene[_rect(yy, xx, body_cy - length * 0.25, body_cy, min(tail_x, tail_x + facing * length * 0.06),
                max(tail_x, tail_x + facing * length * 0.06))] = fur - 2.0
    scene[_ellipse(yy, xx, body_cy, cx, length * 0.17, length * 0.5)] = fur
    head_x = cx + facing * length * 0.55
    scene[_ellipse(yy, xx, body_cy - length * 0.22, head_x, length * 0.13, length * 0.15)] = rng.uniform(306.5, 309.0)
    scene[_ellipse(yy, xx, body_cy - length * 0.2, head_x + facing * length * 0.17, length * 0.06,
                   length * 0.08)] = rng.uniform(307.0, 309.5)  # muzzle


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur with edge padding: the optics' point-spread function."""
    radius = max(1, int(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    padded = np.pad(image, radius, mode="edge")
    rows = sum(t * padded[:, i:i + image.shape[1]] for i, t in enumerate(taps))
    return sum(t * rows[i:i + image.shape[0], :] for i, t in enumerate(taps))


def simulated_kelvin(label: str, rng: np.random.Generator, size: tuple[int, int] = (HEIGHT, WIDTH)) -> np.ndarray:
    """The true scene temperature in kelvin (float64, ``[H, W]``), before the sensor."""
    if label not in CLASSES:
        raise ValueError(f"unknown simulated class {label!r} (known: {', '.join(CLASSES)})")
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    scene, ambient = _background(yy, xx, rng)
    ground_y = h * rng.uniform(0.8, 0.95)
    cx = w * rng.uniform(0.35, 0.65)
    scale = rng.uniform(0.8, 1.1)
    facing = 1 if rng.random() < 0.5 else -1
    if label == "person":
        _person(scene, yy, xx, rng, ground_y, cx, scale)
    elif label == "car":
        _car(scene, yy, xx, rng, ground_y, cx, scale, ambient, facing)
    else:
        _dog(scene, yy, xx, rng, ground_y, cx, scale, facing)
    return scene


def simulated_counts(label: str, rng: np.random.Generator, size: tuple[int, int] = (HEIGHT, WIDTH), *,
                     kelvin_per_count: float = TLINEAR_KELVIN_PER_COUNT, stuck_fraction: float = 3e-4) -> np.ndarray:
    """A simulated radiometric frame: ``uint16`` counts, kelvin = counts * ``kelvin_per_count``.

    The sensor model: blur (sigma ~0.7 px), vignetting (the edges read up to
    ~2 K off), column fixed-pattern noise (~60 mK), temporal noise (~50 mK,
    a typical NETD), ``stuck_fraction`` dead/hot pixels, quantisation.
    """
    h, w = size
    kelvin = _blur(simulated_kelvin(label, rng, size), rng.uniform(0.5, 0.9))
    yy, xx = np.mgrid[0:h, 0:w]
    r2 = ((yy - h / 2) / (h / 2)) ** 2 + ((xx - w / 2) / (w / 2)) ** 2
    kelvin = kelvin - rng.uniform(0.5, 2.0) * r2 / 2  # vignetting: darker (colder-reading) corners
    kelvin = kelvin + rng.normal(0, 0.06, size=(1, w)) + rng.normal(0, 0.05, size=(h, w))
    counts = np.clip(np.rint(kelvin / kelvin_per_count), 0, 65535).astype(np.uint16)
    stuck = rng.random(size) < stuck_fraction
    counts[stuck] = rng.choice(np.array([0, 65535], dtype=np.uint16), size=int(stuck.sum()))
    return counts


def write_png16(path: Path, counts: np.ndarray) -> Path:
    """Save 16-bit counts as a single-channel 16-bit PNG (lossless)."""
    from PIL import Image

    Image.fromarray(np.asarray(counts, dtype=np.uint16)).save(path)
    return path


def write_tiff(path: Path, data: np.ndarray, compression: str | None = None) -> Path:
    """Save an array as TIFF with tifffile: ``[H, W]`` single-channel, ``[H, W, 3]`` as RGB."""
    import tifffile

    photometric = "rgb" if data.ndim == 3 and data.shape[-1] == 3 else None
    tifffile.imwrite(path, data, compression=compression, photometric=photometric)
    return path


def write_dataset(out_dir: Path, per_class: int, *, seed: int = 0, size: tuple[int, int] = (HEIGHT, WIDTH),
                  fmt: str = "png") -> list[Path]:
    """``per_class`` simulated frames of each class, named ``simulated-<class>-<n>.thermal.<fmt>``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(per_class):
        for label in CLASSES:
            path = out_dir / f"simulated-{label}-{i:04d}.thermal.{fmt}"
            counts = simulated_counts(label, rng, size)
            paths.append(write_png16(path, counts) if fmt == "png" else write_tiff(path, counts))
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write simulated 16-bit radiometric thermal frames.")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--per-class", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", default=f"{HEIGHT}x{WIDTH}", help="HEIGHTxWIDTH, e.g. 512x640 (a Boson 640)")
    parser.add_argument("--format", choices=("png", "tiff"), default="png")
    args = parser.parse_args(argv)
    h, w = (int(v) for v in args.size.lower().split("x"))
    paths = write_dataset(args.out_dir, args.per_class, seed=args.seed, size=(h, w), fmt=args.format)
    print(f"wrote {len(paths)} simulated thermal frames ({', '.join(CLASSES)}) to {args.out_dir}")


if __name__ == "__main__":
    main()
