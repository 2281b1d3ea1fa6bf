"""Meshes to clouds: points sampled on the surface, each face in proportion to its area.

This is how ModelNet point sets are made from the OFF meshes. Sampling the
vertices instead would over-represent finely tessellated parts (a chair's
curved back has hundreds of vertices, its flat seat four).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unibind.errors import InputError


def triangulate(path: Path, polygons: list[np.ndarray] | np.ndarray, n_vertices: int) -> np.ndarray:
    """Faces (triangles ``[F, 3]``, or polygons of any size) to triangles by fans; indices checked."""
    if isinstance(polygons, np.ndarray) and polygons.ndim == 2 and polygons.shape[1] == 3:
        triangles = polygons.astype(np.int64)
    else:
        fans = [np.stack([np.full(len(p) - 2, p[0]), p[1:-1], p[2:]], axis=1)
                for p in polygons if len(p) >= 3]
        triangles = np.concatenate(fans).astype(np.int64) if fans else np.empty((0, 3), np.int64)
    if triangles.size:
        low, high = int(triangles.min()), int(triangles.max())
        if low < 0 or high >= n_vertices:
            bad = low if low < 0 else high
            raise InputError(path, f"a face refers to vertex {bad}, but the mesh has {n_vertices} vertices")
    return triangles


def sample_surface(vertices: np.ndarray, triangles: np.ndarray, count: int, seed: int = 0
                   ) -> tuple[np.ndarray, np.ndarray] | None:
    """``count`` points uniformly on the surface and their face normals; None if the area is zero."""
    a, b, c = (vertices[triangles[:, i]].astype(np.float64) for i in range(3))
    cross = np.cross(b - a, c - a)
    doubled = np.linalg.norm(cross, axis=1)
    finite = np.isfinite(doubled)
    total = doubled[finite].sum()
    if not np.isfinite(total) or total <= 0:
        return None
    weights = np.where(finite, doubled, 0.0) / total
    rng = np.random.default_rng(seed)
    face = rng.choice(len(triangles), size=count, p=weights)
    r1 = np.sqrt(rng.random(count))[:, None]
    r2 = rng.random(count)[:, None]
    # Uniform barycentric coordinates: (1 - sqrt(r1), sqrt(r1)(1 - r2), sqrt(r1) r2).
    points = (1 - r1) * a[face] + r1 * (1 - r2) * b[face] + r1 * r2 * c[face]
    normals = cross[face] / doubled[face][:, None]
    return points.astype(np.float32), normals.astype(np.float32)


def mesh_cloud(path: Path, vertices: np.ndarray, normals: np.ndarray | None, colours: np.ndarray | None,
               triangles: np.ndarray | None, settings, notes: dict[str, str]):
    """The cloud of a mesh: surface samples (the default) or its vertices, as ``settings`` say."""
    from unibind_plugin_pointcloud.cloud import finish

    if settings.mesh_sampling == "surface" and triangles is not None and len(triangles):
        sampled = sample_surface(vertices, triangles, settings.surface_points, settings.seed)
        if sampled is not None:
            notes["sampled"] = f"{settings.surface_points} points on {len(triangles)} faces, area-weighted"
            vertices, normals = sampled
            colours = None
        else:
            notes["sampled"] = "faces have no area: using the vertices"
    return finish(path, vertices, normals, colours, drop_non_finite=settings.drop_non_finite,
                  min_points=settings.min_points, notes=notes)
