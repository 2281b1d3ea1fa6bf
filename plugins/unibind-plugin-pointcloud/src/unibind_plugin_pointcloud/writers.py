"""Writing clouds (and meshes) in every format the loader reads.

For exporting, and for tests: each format round-trips through its reader.
PCD goes through ``pypcd4``, the library that reads it; PLY, OFF, XYZ and
NumPy files are written here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from unibind_plugin_pointcloud.cloud import PointCloud

PlyFormat = Literal["ascii", "binary_little_endian", "binary_big_endian"]
PcdEncoding = Literal["ascii", "binary", "binary_compressed"]


def _colour_bytes(colors: np.ndarray) -> np.ndarray:
    return np.round(np.clip(colors, 0, 1) * 255).astype(np.uint8)


def write_ply(path: str | Path, cloud: PointCloud, fmt: PlyFormat = "binary_little_endian",
              faces: np.ndarray | None = None) -> Path:
    """Vertices with x y z (float), nx ny nz, red green blue (uchar); optional triangle faces."""
    path = Path(path)
    order = {"ascii": "<", "binary_little_endian": "<", "binary_big_endian": ">"}[fmt]
    fields = [("x", "f4"), ("y", "f4"), ("z", "f4")]
    if cloud.normals is not None:
        fields += [("nx", "f4"), ("ny", "f4"), ("nz", "f4")]
    if cloud.colors is not None:
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    vertex = np.empty(len(cloud.points), dtype=[(n, np.dtype(t).newbyteorder(order)) for n, t in fields])
    for i, k in enumerate("xyz"):
        vertex[k] = cloud.points[:, i]
    if cloud.normals is not None:
        for i, k in enumerate(("nx", "ny", "nz")):
            vertex[k] = cloud.normals[:, i]
    if cloud.colors is not None:
        rgb = _colour_bytes(cloud.colors)
        for i, k in enumerate(("red", "green", "blue")):
            vertex[k] = rgb[:, i]
    ply_type = {"f4": "float", "u1": "uchar"}
    header = ["ply", f"format {fmt} 1.0", "comment written by unibind-plugin-pointcloud",
              f"element vertex {len(vertex)}", *(f"property {ply_type[t]} {n}" for n, t in fields)]
    if faces is not None:
        header += [f"element face {len(faces)}", "property list uchar int vertex_indices"]
    header.append("end_header")
    with path.open("wb") as fh:
        fh.write(("\n".join(header) + "\n").encode("ascii"))
        if fmt == "ascii":
            formats = ["%.9g" if t == "f4" else "%d" for _, t in fields]
            np.savetxt(fh, np.column_stack([vertex[n].astype(np.float64) for n, _ in fields]), fmt=formats)
            if faces is not None:
                np.savetxt(fh, np.column_stack([np.full(len(faces), 3), faces]), fmt="%d")
        else:
            fh.write(vertex.tobytes())
            if faces is not None:
                face = np.empty(len(faces), dtype=[("n", "u1"), ("v", np.dtype("i4").newbyteorder(order), (3,))])
                face["n"], face["v"] = 3, faces
                fh.write(face.tobytes())
    return path


def write_off(path: str | Path, vertices: np.ndarray, faces: np.ndarray | None = None, *,
              glued: bool = False) -> Path:
    """An OFF mesh (or bare vertices); ``glued`` writes ModelNet's ``OFF<v> <f> 0`` first line."""
    path = Path(path)
    faces = np.empty((0, 3), np.int64) if faces is None else np.asarray(faces)
    counts = f"{len(vertices)} {len(faces)} 0"
    with path.open("w", encoding="ascii") as fh:
        fh.write(f"OFF{counts}\n" if glued else f"OFF\n{counts}\n")
        np.savetxt(fh, np.asarray(vertices, dtype=np.float64), fmt="%.9g")
        if len(faces):
            np.savetxt(fh, np.column_stack([np.full(len(faces), faces.shape[1]), faces]), fmt="%d")
    return path


def write_pcd(path: str | Path, cloud: PointCloud, encoding: PcdEncoding = "binary") -> Path:
    """x y z (float32), normal_x.. when present, PCL's packed ``rgb`` (uint32 0x00RRGGBB) when present."""
    from pypcd4 import Encoding
    from pypcd4 import PointCloud as PcdCloud

    path = Path(path)
    columns = [cloud.points[:, i].astype(np.float32) for i in range(3)]
    fields, types = ["x", "y", "z"], [np.float32] * 3
    if cloud.normals is not None:
        columns += [cloud.normals[:, i].astype(np.float32) for i in range(3)]
        fields += ["normal_x", "normal_y", "normal_z"]
        types += [np.float32] * 3
    if cloud.colors is not None:
        rgb = _colour_bytes(cloud.colors).astype(np.uint32)
        columns.append((rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2])
        fields.append("rgb")
        types.append(np.uint32)
    PcdCloud.from_points(columns, fields, types).save(path, encoding=Encoding(encoding))
    return path


def write_xyz(path: str | Path, cloud: PointCloud, delimiter: str = " ") -> Path:
    """One point per line: x y z [nx ny nz] [r g b as 0..255]."""
    path = Path(path)
    parts = [cloud.points.astype(np.float64)]
    fmt = ["%.9g"] * 3
    if cloud.normals is not None:
        parts.append(cloud.normals.astype(np.float64))
        fmt += ["%.9g"] * 3
    if cloud.colors is not None:
        parts.append(_colour_bytes(cloud.colors).astype(np.float64))
        fmt += ["%d"] * 3
    np.savetxt(path, np.hstack(parts), fmt=fmt, delimiter=delimiter)
    return path


def write_npy(path: str | Path, cloud: PointCloud) -> Path:
    """A float32 table ``[N, 3|6|9]``: x y z, then normals, then colours in 0..1."""
    path = Path(path)
    parts = [cloud.points] + [a for a in (cloud.normals, cloud.colors) if a is not None]
    with path.open("wb") as fh:  # np.save on a path would append .npy to other suffixes
        np.save(fh, np.hstack(parts).astype(np.float32), allow_pickle=False)
    return path


def write_npz(path: str | Path, cloud: PointCloud, compressed: bool = True) -> Path:
    """Named arrays ``points``, ``normals``, ``colors`` (those present)."""
    path = Path(path)
    arrays = {"points": cloud.points.astype(np.float32)}
    if cloud.normals is not None:
        arrays["normals"] = cloud.normals.astype(np.float32)
    if cloud.colors is not None:
        arrays["colors"] = cloud.colors.astype(np.float32)
    with path.open("wb") as fh:
        (np.savez_compressed if compressed else np.savez)(fh, **arrays)
    return path
