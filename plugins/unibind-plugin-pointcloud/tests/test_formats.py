"""Readers and writers: every format round-trips, meshes are sampled by area, bad files are refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from unibind_plugin_pointcloud.cloud import PointCloud
from unibind_plugin_pointcloud.loading import PointCloudModality
from unibind_plugin_pointcloud.settings import PointCloudLoadSettings
from unibind_plugin_pointcloud.simulated import simulated_mesh
from unibind_plugin_pointcloud.writers import write_npy, write_npz, write_off, write_pcd, write_ply, write_xyz

from unibind.errors import InputError
from unibind.testing import bad_file_variants, check_loader_rejects


@pytest.fixture
def cloud(simulated) -> PointCloud:
    """A simulated cone (points and normals) given random colours."""
    c = simulated("cone", seed=1, points=400)
    c.colors = np.random.default_rng(2).random((len(c), 3)).astype(np.float32)
    return c


WRITERS: dict[str, Callable[[Path, PointCloud], Path]] = {
    "ply-ascii": lambda d, c: write_ply(d / "c.ply", c, "ascii"),
    "ply-binary-le": lambda d, c: write_ply(d / "c.ply", c, "binary_little_endian"),
    "ply-binary-be": lambda d, c: write_ply(d / "c.ply", c, "binary_big_endian"),
    "pcd-ascii": lambda d, c: write_pcd(d / "c.pcd", c, "ascii"),
    "pcd-binary": lambda d, c: write_pcd(d / "c.pcd", c, "binary"),
    "pcd-binary-compressed": lambda d, c: write_pcd(d / "c.pcd", c, "binary_compressed"),
    "xyz-spaces": lambda d, c: write_xyz(d / "c.xyz", c),
    "txt-commas": lambda d, c: write_xyz(d / "c.txt", c, delimiter=","),
    "npy": lambda d, c: write_npy(d / "c.npy", c),
    "npz-compressed": lambda d, c: write_npz(d / "c.npz", c),
    "npz-stored": lambda d, c: write_npz(d / "c.npz", c, compressed=False),
}


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_every_written_format_round_trips(fmt: str, cloud: PointCloud, tmp_path: Path) -> None:
    path = WRITERS[fmt](tmp_path, cloud)
    back = PointCloudModality().load(path)
    assert back.points.shape == cloud.points.shape
    np.testing.assert_allclose(back.points, cloud.points, atol=1e-6)
    np.testing.assert_allclose(back.normals, cloud.normals, atol=1e-6)
    np.testing.assert_allclose(back.colors, cloud.colors, atol=0.5 / 255 + 1e-6)  # 8-bit in most formats
    assert back.notes["format"].split("-")[0] == fmt.split("-")[0].replace("txt", "xyz")


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_the_contract_kits_bad_variants_of_every_format_are_refused(fmt: str, cloud: PointCloud,
                                                                    tmp_path: Path) -> None:
    good = WRITERS[fmt](tmp_path, cloud)
    check_loader_rejects(PointCloudModality(), bad_file_variants(good, tmp_path / "bad"))


def test_points_only_files_have_no_normals_or_colours(tmp_path: Path, simulated) -> None:
    bare = PointCloud(simulated("box", points=50).points)
    for write in (lambda: write_ply(tmp_path / "b.ply", bare), lambda: write_pcd(tmp_path / "b.pcd", bare),
                  lambda: write_xyz(tmp_path / "b.xyz", bare), lambda: write_npz(tmp_path / "b.npz", bare)):
        back = PointCloudModality().load(write())
        assert back.normals is None and back.colors is None
        np.testing.assert_allclose(back.points, bare.points, atol=1e-6)


def test_open3d_suffixes_and_explicit_columns_decide_what_columns_mean(tmp_path: Path) -> None:
    table = np.array([[0, 0, 0, 0.2, 0.3, 0.1], [1, 1, 1, 0.9, 0.8, 0.7]], dtype=np.float64)
    path = tmp_path / "c.xyzrgb"
    np.savetxt(path, table)
    assert np.allclose(PointCloudModality().load(path).colors, table[:, 3:])
    again = tmp_path / "c.xyz"
    np.savetxt(again, table)
    columns = PointCloudLoadSettings(text_columns=("x", "y", "z", "nx", "ny", "nz"))
    assert np.allclose(PointCloudModality(columns).load(again).normals, table[:, 3:])


def test_text_files_skip_comments_a_header_line_and_a_pts_count(tmp_path: Path) -> None:
    path = tmp_path / "scan.pts"
    path.write_text("3\n# a comment\n0 0 0\n\n1 2 3\n// another\n4 5 6\n")
    assert PointCloudModality().load(path).points.tolist() == [[0, 0, 0], [1, 2, 3], [4, 5, 6]]
    header = tmp_path / "table.txt"
    header.write_text("x,y,z\n1,2,3\n4,5,6\n")
    loaded = PointCloudModality().load(header)
    assert loaded.points.tolist() == [[1, 2, 3], [4, 5, 6]] and loaded.notes["header"] == "x,y,z"


# -- OFF, the ModelNet format -----------------------------------------------------------------

@pytest.mark.parametrize("glued", [False, True], ids=["two-line-header", "modelnet-glued-header"])
def test_off_vertices_round_trip_with_either_header(glued: bool, tmp_path: Path) -> None:
    vertices, faces = simulated_mesh("torus", np.random.default_rng(0))
    path = write_off(tmp_path / "torus.off", vertices, faces, glued=glued)
    first = path.read_text().splitlines()[0]
    assert first.startswith("OFF") and (first != "OFF") == glued
    back = PointCloudModality(PointCloudLoadSettings(mesh_sampling="vertices")).load(path)
    np.testing.assert_allclose(back.points, vertices, atol=1e-6)


def test_off_surface_samples_faces_in_proportion_to_their_area(tmp_path: Path) -> None:
    """Two triangles in the plane z=0, areas 1 and 3: three quarters of the samples land on the second."""
    vertices = np.array([[0, 0, 0], [2, 0, 0], [0, 1, 0], [10, 0, 0], [13, 0, 0], [10, 2, 0]], float)
    path = write_off(tmp_path / "two.off", vertices, np.array([[0, 1, 2], [3, 4, 5]]), glued=True)
    cloud = PointCloudModality(PointCloudLoadSettings(surface_points=4000)).load(path)
    on_big = float((cloud.points[:, 0] >= 10).mean())
    print(f"\nshare of surface samples on the face with 3/4 of the area: {on_big:.3f}")
    assert abs(on_big - 0.75) < 0.03
    assert np.allclose(cloud.points[:, 2], 0) and np.allclose(np.abs(cloud.normals[:, 2]), 1)
    small = cloud.points[cloud.points[:, 0] < 10]  # inside the first triangle: x/2 + y <= 1
    assert (small[:, 0] / 2 + small[:, 1] <= 1 + 1e-5).all()


def test_off_polygons_are_fanned_and_colours_and_comments_are_read(tmp_path: Path) -> None:
    path = tmp_path / "quad.off"
    path.write_text("COFF\n# a unit square as one quad\n4 1 0\n0 0 0 255 0 0 255\n1 0 0 255 0 0 255\n"
                    "1 1 0 255 0 0 255\n0 1 0 255 0 0 255\n4 0 1 2 3\n")
    vertices = PointCloudModality(PointCloudLoadSettings(mesh_sampling="vertices")).load(path)
    assert np.allclose(vertices.colors, [1, 0, 0])
    surface = PointCloudModality(PointCloudLoadSettings(surface_points=500)).load(path)
    assert surface.points[:, :2].min() >= 0 and surface.points[:, :2].max() <= 1
    assert surface.points[:, 0].mean() == pytest.approx(0.5, abs=0.05)  # both halves of the fan are used


@pytest.mark.parametrize("text, problem", [
    ("OFF\n3 1\n0 0 0\n1 0 0\n", "file ends after 2 of the 3 vertices"),
    ("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n", "refers to vertex 7"),
    ("OFF\nthree 1 0\n", "bad OFF counts"),
    ("OFF\n0 0 0\n", "declares 0 vertices"),
    ("OFF3 1 0\n0 0 0\n1 0 zero\n0 1 0\n3 0 1 2\n", "line 3 is not numbers"),
    ("OFF2 1 0\n0 0 0\n1 0 0\n4 0 1\n", "face says 4 vertices but lists 2"),
    ("4OFF\n1 0 0\n0 0 0 0\n", "not point clouds in 3-D"),
], ids=["short-vertices", "index-out-of-range", "bad-counts", "no-vertices", "bad-number", "short-face", "4d"])
def test_malformed_off_files_are_refused_clearly(text: str, problem: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.off"
    path.write_text(text)
    with pytest.raises(InputError, match=problem):
        PointCloudModality().load(path)


# -- PLY and PCD specifics ---------------------------------------------------------------------

def test_ply_meshes_are_sampled_on_triangles(tmp_path: Path) -> None:
    vertices, faces = simulated_mesh("box", np.random.default_rng(0))
    for fmt in ("binary_big_endian", "ascii"):
        mesh = write_ply(tmp_path / f"box-{fmt}.ply", PointCloud(vertices.astype(np.float32)), fmt, faces=faces)
        surface = PointCloudModality(PointCloudLoadSettings(surface_points=1000)).load(mesh)
        assert len(surface) == 1000 and surface.notes["sampled"].endswith("on 12 faces, area-weighted")
        # a box's samples lie on its faces: on each point one coordinate is at +-half
        half = np.abs(vertices).max(axis=0)
        assert np.isclose(np.abs(surface.points), half, atol=1e-4).any(axis=1).all()


SQUARE = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=np.float64)


def test_ply_from_other_writers_binary_quads_doubles_and_extra_elements(tmp_path: Path) -> None:
    """Written byte by byte as the PLY spec allows: an element before the vertices, double
    coordinates, a quad face with a uint list and a trailing per-face property, an element after."""
    header = ("ply\nformat binary_little_endian 1.0\ncomment made by hand\nelement camera 1\n"
              "property float view_x\nproperty float view_y\nelement vertex 4\nproperty double x\n"
              "property double y\nproperty double z\nelement face 1\nproperty list uchar uint vertex_index\n"
              "property uchar flags\nelement edge 1\nproperty int vertex1\nproperty int vertex2\nend_header\n")
    body = (np.array([7.0, 8.0], "<f4").tobytes() + SQUARE.astype("<f8").tobytes()
            + bytes([4]) + np.array([0, 1, 2, 3], "<u4").tobytes() + bytes([9])
            + np.array([0, 1], "<i4").tobytes())
    path = _bytes(tmp_path / "quad.ply", header.encode() + body)
    vertices = PointCloudModality(PointCloudLoadSettings(mesh_sampling="vertices")).load(path)
    assert vertices.points.tolist() == SQUARE.tolist()
    surface = PointCloudModality(PointCloudLoadSettings(surface_points=400)).load(path)
    assert "on 2 faces" in surface.notes["sampled"]  # the quad, fanned into two triangles
    assert surface.points[:, 0].mean() == pytest.approx(0.5, abs=0.06)
    with pytest.raises(InputError, match="truncated: file ends in row 0 of element 'face'"):
        PointCloudModality().load(_bytes(tmp_path / "cut.ply", header.encode() + body[:8 + 96 + 9]))


def test_ascii_ply_with_comments_colours_and_a_bad_line(tmp_path: Path) -> None:
    text = ("ply\nformat ascii 1.0\ncomment hand-made\nelement vertex 3\nproperty float x\nproperty float y\n"
            "property float z\nproperty uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n"
            "0 0 0 255 0 0\n1 0 0 0 255 0\n0 1 0 0 0 255\n")
    cloud = PointCloudModality().load(_text(tmp_path / "rgb.ply", text))
    assert cloud.colors.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    with pytest.raises(InputError, match="line 13 is not numbers"):
        PointCloudModality().load(_text(tmp_path / "bad.ply", text.replace("1 0 0 0 255 0", "1 0 zero 0 255 0")))
    with pytest.raises(InputError, match="malformed PLY header line 6"):
        PointCloudModality().load(_text(tmp_path / "hdr.ply", text.replace("property float y", "property quad y")))


def test_pcd_nan_points_of_an_organised_scan_are_dropped(tmp_path: Path) -> None:
    points = np.random.default_rng(0).random((12, 3)).astype(np.float32)
    points[::3] = np.nan  # no return
    write_pcd(tmp_path / "scan.pcd", PointCloud(points), "binary")
    cloud = PointCloudModality().load(tmp_path / "scan.pcd")
    assert len(cloud) == 8 and cloud.notes["dropped_non_finite"] == "4"
    with pytest.raises(InputError, match="4 of 12 points have NaN"):
        PointCloudModality(PointCloudLoadSettings(drop_non_finite=False)).load(tmp_path / "scan.pcd")


def test_pcd_field_layouts_from_pcl(tmp_path: Path) -> None:
    """A hand-written ASCII PCD as PCL writes it: packed float rgb, an ignored field, a comment."""
    packed = np.array([0x00FF8000], dtype=np.uint32).view(np.float32)[0]
    path = tmp_path / "pcl.pcd"
    path.write_text("# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\nFIELDS x y z intensity rgb\n"
                    "SIZE 4 4 4 4 4\nTYPE F F F F F\nCOUNT 1 1 1 1 1\nWIDTH 2\nHEIGHT 1\n"
                    "VIEWPOINT 0 0 0 1 0 0 0\nPOINTS 2\nDATA ascii\n"
                    f"1 2 3 0.5 {float(packed)!r}\n4 5 6 0.7 {float(packed)!r}\n")
    cloud = PointCloudModality().load(path)
    assert cloud.points.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert np.allclose(cloud.colors, [1.0, 128 / 255, 0.0])


# -- refusals ------------------------------------------------------------------------------------

def _text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _saved(path: Path, save) -> Path:
    save(path)
    return path


def _nan_ply(path: Path) -> Path:
    return write_ply(path, PointCloud(np.full((5, 3), np.nan, np.float32)))


@pytest.mark.parametrize("make, problem", [
    (lambda d: _nan_ply(d / "nan.ply"), "every one of its 5 points has a NaN"),
    (lambda d: write_ply(d / "none.ply", PointCloud(np.empty((0, 3), np.float32))), "0 vertices"),
    (lambda d: _text(d / "e.xyz", "# only a comment\n\n"), "no data lines"),
    (lambda d: _text(d / "two.xyz", "1 2\n3 4\n"), "needs at least x y z"),
    (lambda d: _text(d / "ragged.xyz", "1 2 3\n4 5 6\n7 8\n"), "line 3 has 2 values"),
    (lambda d: _text(d / "x.ply", "ply\nformat ascii 1.0\nelement face 1\nend_header\n"),
     "declares no 'vertex' element"),
    (lambda d: _text(d / "y.ply", "ply\nformat ascii 1.0\nelement vertex 1\nproperty float a\nend_header\n1\n")
     or d / "y.ply", "no x, y, z properties"),
    (lambda d: _bytes(d / "p.pcd", b"VERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\n"
                                          b"WIDTH 9\nHEIGHT 1\nPOINTS 9\nDATA binary\n" + bytes(12 * 4)),
     "declares 9 points"),
    (lambda d: _text(d / "q.pcd", "VERSION 0.7\nFIELDS x y\nSIZE 4 4\nTYPE F F\nCOUNT 1 1\nWIDTH 1\n"
                                         "HEIGHT 1\nPOINTS 1\nDATA ascii\n1 2\n"), "no x, y, z fields"),
    (lambda d: _saved(d / "obj.npy", lambda p: np.save(p, np.array([{"x": 1}], dtype=object),
                                                       allow_pickle=True)),
     "refusing to unpickle"),
    (lambda d: _saved(d / "flat.npy", lambda p: np.save(p, np.zeros(9, np.float32))), "expected a table of points"),
    (lambda d: _saved(d / "k.npz", lambda p: np.savez(p, a=np.zeros((3, 3)), b=np.zeros((3, 3)))), "no points array"),
    (lambda d: _saved(d / "n.npz", lambda p: np.savez(p, points=np.zeros((3, 3)), normals=np.zeros((2, 3)))),
     "has 2 rows, the points 3"),
], ids=["all-nan", "empty-ply", "comments-only", "two-columns", "ragged", "no-vertex", "no-xyz", "short-pcd",
        "pcd-no-z", "pickled-npy", "1d-npy", "npz-no-points", "npz-mismatch"])
def test_bad_files_are_refused_with_clear_errors(make, problem: str, tmp_path: Path) -> None:
    path = make(tmp_path)
    with pytest.raises(InputError, match=problem) as caught:
        PointCloudModality().load(path)
    assert str(path) in str(caught.value)


def test_content_not_the_name_picks_the_reader(tmp_path: Path, cloud: PointCloud) -> None:
    disguised = write_pcd(tmp_path / "c.pcd", cloud, "binary").rename(tmp_path / "really-a-pcd.ply")
    assert PointCloudModality().load(disguised).notes["format"] == "pcd-binary"
    renamed = write_ply(tmp_path / "c.ply", cloud).rename(tmp_path / "scan.bin")
    assert len(PointCloudModality().load(renamed)) == len(cloud)  # PLY content, unknown suffix: sniffed
    junk = _bytes(tmp_path / "junk.ply", bytes(range(256)) * 4)
    with pytest.raises(InputError, match="not a PLY file"):  # no known signature: the suffix's reader says why
        PointCloudModality().load(junk)


# -- the point budget ------------------------------------------------------------------------------

def _line(n: int) -> PointCloud:
    """Points along the x axis, 0..n-1: an evenly strided cut keeps both ends and even gaps."""
    x = np.arange(n, dtype=np.float32)
    return PointCloud(np.stack([x, np.zeros(n, np.float32), np.zeros(n, np.float32)], axis=1))


@pytest.mark.parametrize("write", [
    lambda d, c: write_ply(d / "l.ply", c), lambda d, c: write_ply(d / "l.ply", c, "binary_big_endian"),
    lambda d, c: write_ply(d / "l.ply", c, "ascii"),
    lambda d, c: write_pcd(d / "l.pcd", c, "binary"), lambda d, c: write_pcd(d / "l.pcd", c, "ascii"),
    lambda d, c: write_xyz(d / "l.xyz", c), lambda d, c: write_npy(d / "l.npy", c),
    lambda d, c: write_npz(d / "l.npz", c), lambda d, c: write_off(d / "l.off", c.points),
], ids=["ply", "ply-be", "ply-ascii", "pcd-binary", "pcd-ascii", "xyz", "npy", "npz", "off"])
def test_clouds_above_the_budget_are_cut_evenly_while_reading(write, tmp_path: Path) -> None:
    path = write(tmp_path, _line(10_001))
    cloud = PointCloudModality(PointCloudLoadSettings(max_points=1000, mesh_sampling="vertices")).load(path)
    x = np.sort(cloud.points[:, 0])
    gaps = np.diff(x)
    assert 1000 >= len(cloud) >= 500 and "cut" in cloud.notes
    assert x[0] < 20 and x[-1] > 9980 and gaps.max() <= 2.5 * gaps.mean()


def test_lzf_compressed_pcd_cannot_be_read_in_part_so_it_is_refused_above_the_budget(tmp_path: Path) -> None:
    path = write_pcd(tmp_path / "l.pcd", _line(2000), "binary_compressed")
    with pytest.raises(InputError, match="LZF-compressed PCD with 2000 points"):
        PointCloudModality(PointCloudLoadSettings(max_points=1000)).load(path)
