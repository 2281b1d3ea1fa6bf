"""Simulated shapes for tests, demos and benchmarks: no real point-cloud data ships in any package.

Five procedural classes (sphere, box, cylinder, cone, torus), each a
triangle mesh with random proportions, then randomly rotated, scaled and
moved, sampled on its surface like ModelNet point sets and given a little
sensor-like jitter. These are simulated clouds, not scans; say so wherever
they are shown.
"""

from __future__ import annotations

import numpy as np

from unibind_plugin_pointcloud.cloud import PointCloud
from unibind_plugin_pointcloud.mesh import sample_surface

SHAPES = ("sphere", "box", "cylinder", "cone", "torus")
SEGMENTS = 32


def _grid(rows: int, cols: int, wrap_cols: bool = True) -> np.ndarray:
    """Triangles of a ``rows x cols`` vertex grid (columns wrap around)."""
    tris = []
    for r in range(rows - 1):
        for c in range(cols if wrap_cols else cols - 1):
            a, b = r * cols + c, r * cols + (c + 1) % cols
            d, e = a + cols, b + cols
            tris += [(a, b, e), (a, e, d)]
    return np.array(tris, dtype=np.int64)


def _revolve(profile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A surface of revolution about z from a profile of (radius, z) pairs."""
    angles = np.linspace(0, 2 * np.pi, SEGMENTS, endpoint=False)
    radius, height = profile[:, :1], profile[:, 1:]
    vertices = np.stack([radius * np.cos(angles), radius * np.sin(angles),
                         np.broadcast_to(height, (len(profile), SEGMENTS))], axis=-1).reshape(-1, 3)
    return vertices, _grid(len(profile), SEGMENTS)


def shape_mesh(shape: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and triangles of one shape with random proportions, centred at the origin."""
    if shape == "sphere":
        theta = np.linspace(0, np.pi, 17)
        return _revolve(np.stack([np.sin(theta), -np.cos(theta)], axis=1))
    if shape == "box":
        half = rng.uniform(0.4, 1.0, size=3)
        corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float) * half
        faces = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                          [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])
        return corners, faces
    if shape == "cylinder":
        r, h = rng.uniform(0.3, 0.7), rng.uniform(0.6, 1.2)
        return _revolve(np.array([[0, -h], [r, -h], [r, -h / 2], [r, 0], [r, h / 2], [r, h], [0, h]]))
    if shape == "cone":
        r, h = rng.uniform(0.4, 0.9), rng.uniform(0.8, 1.4)
        return _revolve(np.array([[0, -h / 2], [r, -h / 2], [r / 2, 0], [1e-3, h / 2]]))
    if shape == "torus":
        minor = rng.uniform(0.2, 0.45)
        phi = np.linspace(0, 2 * np.pi, 17)
        vertices, triangles = _revolve(np.stack([1 + minor * np.cos(phi), minor * np.sin(phi)], axis=1))
        return vertices, triangles
    raise ValueError(f"unknown simulated shape {shape!r} (known: {', '.join(SHAPES)})")


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A rotation matrix drawn uniformly (QR of a Gaussian matrix, signs fixed)."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def simulated_cloud(shape: str, rng: np.random.Generator, points: int = 2048, *, rotate: bool = True,
                    jitter: float = 0.005) -> PointCloud:
    """One simulated cloud: a random instance of ``shape``, posed at random, sampled on its surface."""
    vertices, triangles = shape_mesh(shape, rng)
    xyz, normals = sample_surface(vertices, triangles, points, seed=int(rng.integers(2**31)))
    rotation = random_rotation(rng) if rotate else np.eye(3)
    scale = rng.uniform(0.5, 2.0)
    xyz = (xyz @ rotation.T) * scale + rng.uniform(-1, 1, size=3)
    xyz = xyz + rng.normal(scale=jitter * scale, size=xyz.shape)
    return PointCloud(xyz.astype(np.float32), (normals @ rotation.T).astype(np.float32),
                      notes={"simulated": shape})


def simulated_mesh(shape: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A simulated mesh, for OFF/PLY mesh files: random proportions, no pose."""
    return shape_mesh(shape, rng)
