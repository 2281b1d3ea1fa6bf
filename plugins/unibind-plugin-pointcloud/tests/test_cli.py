"""The command line: `unibind bench fps` (added by this plugin) and `unibind embed pointcloud`."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from safetensors import safe_open
from unibind_cli.main import cli
from unibind_plugin_pointcloud.simulated import simulated_cloud, simulated_mesh
from unibind_plugin_pointcloud.writers import write_off, write_pcd, write_ply, write_xyz

from unibind.plugins import get_plugin_manager


@pytest.fixture(scope="module")
def unibind():
    """The real `unibind` group with every plugin's commands added, as `unibind_cli.main:main` does."""
    get_plugin_manager().add_commands(cli)
    return cli


def test_bench_fps_is_added_to_the_bench_group_and_prints_each_path(unibind) -> None:
    assert "fps" in unibind.commands["bench"].commands
    result = CliRunner().invoke(unibind, ["bench", "fps", "--points", "3000", "--samples", "256", "--repeat", "1"])
    assert result.exit_code == 0, result.output
    print("\n" + result.output)
    assert "FPS 3000 -> 256 points, simulated torus" in result.output
    torch_row = next(line for line in result.output.splitlines() if line.strip().startswith("torch (cpu)"))
    exact_row = next(line for line in result.output.splitlines() if line.strip().startswith("fpsample (exact)"))
    assert " ms " in torch_row and "100.0%" in exact_row and exact_row.rstrip().endswith("True")
    assert "pointnet2_ops (cuda)" in result.output  # listed, with its time or why it is unavailable


@pytest.mark.slow
def test_embed_pointcloud_files_of_every_format_skipping_bad_ones(unibind, tmp_path) -> None:
    """End to end: loader, the default multiview-depth encoder, an adapter into the text space.

    The adapter is the seeded untrained ``linear`` one: the default ImageNet bridge would first embed
    its 1,975 class texts with MiniLM (tested with a stand-in text encoder in test_multiview; the
    benchmark in the README runs the full defaults).
    """
    rng = np.random.default_rng(0)
    good = [
        write_ply(tmp_path / "sphere.ply", simulated_cloud("sphere", rng, 800)),
        write_pcd(tmp_path / "box.pcd", simulated_cloud("box", rng, 800), "binary"),
        write_xyz(tmp_path / "cone.xyz", simulated_cloud("cone", rng, 800)),
        write_off(tmp_path / "torus.off", *simulated_mesh("torus", rng), glued=True),
    ]
    broken = tmp_path / "broken.ply"
    broken.write_bytes(good[0].read_bytes()[:300])
    nan = tmp_path / "nan.xyz"
    nan.write_text("nan nan nan\nnan nan nan\n")
    out = tmp_path / "clouds.safetensors"
    result = CliRunner().invoke(unibind, ["embed", "pointcloud", *map(str, good), str(broken), str(nan),
                                          "--out", str(out), "--batch-size", "2", "--adapter", "linear"])
    assert result.exit_code == 1, result.output  # some inputs were skipped
    assert "skipped 2 input(s)" in result.output
    assert str(broken) in result.output and str(nan) in result.output
    with safe_open(str(out), framework="pt") as fh:
        vectors = fh.get_tensor("embeddings")
    assert vectors.shape == (4, 384)  # MiniLM's text space
    assert np.allclose(vectors.norm(dim=-1).numpy(), 1.0, atol=1e-5)
