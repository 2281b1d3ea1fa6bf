"""Simulated depth scenes, for tests and demos: no real depth data ships in any package.

A pinhole camera (Kinect-like field of view) looks at one object (a sphere, a
box or an upright cylinder) floating in front of a tilted wall above a floor.
Depth is ray-cast analytically, then given Kinect-style noise that grows with
distance, random dropouts (0 = no reading) and millimetre steps. These are
simulated depth maps, not recordings; say so wherever they are shown.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SHAPES = ("sphere", "box", "cylinder")
SIZE = 96  # pixels per side
FOCAL = 0.9  # focal length in image widths: about a 58 degree field of view, like a Kinect v1


def _rays(size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Ray directions (u, v, 1) per pixel; y points down, z forward; depth along a ray is t."""
    coords = (np.arange(size) + 0.5 - size / 2) / (FOCAL * size)
    v, u = np.meshgrid(coords, coords, indexing="ij")
    return u, v


def _sphere(u: np.ndarray, v: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    d = np.stack([u, v, np.ones_like(u)], axis=-1)
    a = (d * d).sum(-1)
    b = d @ centre
    disc = b * b - a * (centre @ centre - radius**2)
    with np.errstate(invalid="ignore"):
        t = (b - np.sqrt(disc)) / a
    return np.where(disc >= 0, t, np.inf)


def _box(u: np.ndarray, v: np.ndarray, centre: np.ndarray, half: np.ndarray, yaw: float,
         pitch: float) -> np.ndarray:
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    rot = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]]) @ np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    d = np.stack([u, v, np.ones_like(u)], axis=-1) @ rot  # directions in the box frame
    o = -centre @ rot
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (-half - o) / d, (half - o) / d
    near = np.nanmax(np.minimum(t1, t2), axis=-1)
    far = np.nanmin(np.maximum(t1, t2), axis=-1)
    return np.where((far >= near) & (near > 0), near, np.inf)


def _cylinder(u: np.ndarray, v: np.ndarray, centre: np.ndarray, radius: float,
              half_height: float) -> np.ndarray:
    a = u * u + 1.0
    b = u * centre[0] + centre[2]
    disc = b * b - a * (centre[0] ** 2 + centre[2] ** 2 - radius**2)
    with np.errstate(invalid="ignore"):
        t = (b - np.sqrt(disc)) / a
    side = np.where((disc >= 0) & (np.abs(t * v - centre[1]) <= half_height), t, np.inf)
    caps = np.full_like(u, np.inf)
    for y in (centre[1] - half_height, centre[1] + half_height):
        with np.errstate(divide="ignore", invalid="ignore"):
            tc = y / v
        inside = (tc > 0) & ((tc * u - centre[0]) ** 2 + (tc - centre[2]) ** 2 <= radius**2)
        caps = np.minimum(caps, np.where(inside, tc, np.inf))
    return np.minimum(side, caps)


def simulated_scene(shape: str, rng: np.random.Generator, size: int = SIZE) -> np.ndarray:
    """One simulated depth map in metres (float32, 0 where the simulated sensor has no reading)."""
    u, v = _rays(size)
    wall_distance = rng.uniform(2.5, 4.0)
    tilt = rng.uniform(-0.3, 0.3, size=2)
    wall = wall_distance / (1.0 - tilt[0] * u - tilt[1] * v)
    camera_height = rng.uniform(0.8, 1.3)
    with np.errstate(divide="ignore"):
        floor = np.where(v > 0, camera_height / np.where(v > 0, v, 1.0), np.inf)
    depth = np.minimum(wall, floor)

    z = rng.uniform(1.3, wall_distance - 0.7)
    centre = np.array([z * rng.uniform(-0.15, 0.15), z * rng.uniform(-0.12, 0.12), z])
    if shape == "sphere":
        obj = _sphere(u, v, centre, rng.uniform(0.2, 0.4))
    elif shape == "box":
        obj = _box(u, v, centre, rng.uniform(0.15, 0.35, size=3), rng.uniform(0, np.pi / 2),
                   rng.uniform(-0.4, 0.4))
    elif shape == "cylinder":
        obj = _cylinder(u, v, centre, rng.uniform(0.15, 0.3), rng.uniform(0.25, 0.45))
    else:
        raise ValueError(f"unknown shape {shape!r}; one of {SHAPES}")
    depth = np.minimum(depth, obj)

    depth = depth + rng.normal(size=depth.shape) * (0.0012 + 0.0019 * (depth - 0.4) ** 2)
    depth[rng.random(depth.shape) < 0.02] = 0.0  # dropouts: no reading
    depth[depth > 8.0] = 0.0  # beyond the simulated sensor's range
    return (np.round(depth * 1000) / 1000).astype(np.float32)  # millimetre steps, like a Kinect


def write_png_mm(path: Path, metres: np.ndarray) -> Path:
    """Save metres as a 16-bit PNG in millimetres, the Kinect/NYU convention."""
    from PIL import Image

    Image.fromarray(np.round(metres * 1000).astype(np.uint16)).save(path)
    return path
