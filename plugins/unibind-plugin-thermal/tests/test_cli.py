"""`unibind embed thermal FILE...` end to end: batched, bad files reported and skipped, the rest saved."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from unibind_plugin_thermal.simulated import CLASSES, simulated_counts, write_png16, write_tiff


@pytest.mark.slow
def test_embed_thermal_skips_bad_files_and_saves_the_rest(tmp_path: Path) -> None:
    """Simulated frames (PNG and TIFF) plus two broken files through the default encoder.

    The adapter is named (an untrained linear map) to keep the test short: the default, the ImageNet
    bridge, first embeds the 1000 ImageNet class texts (minutes on a busy CPU); ``test_encoder`` checks
    that the core picks it for thermal and that it works on thermal features.
    """
    from safetensors import safe_open
    from unibind_cli.main import cli

    rng = np.random.default_rng(3)
    good = [write_png16(tmp_path / f"{name}.thermal.png", simulated_counts(name, rng)) for name in CLASSES]
    good.append(write_tiff(tmp_path / "person.thermal.tiff", simulated_counts("person", rng)))
    bad_nan = write_tiff(tmp_path / "nan.thermal.tiff", np.full((8, 8), np.nan, np.float32))
    bad_text = tmp_path / "notes.thermal.png"
    bad_text.write_text("not an image\n")
    out = tmp_path / "thermal.safetensors"

    result = CliRunner().invoke(cli, ["embed", "thermal", *map(str, [*good, bad_nan, bad_text]),
                                      "--out", str(out), "--batch-size", "2", "--adapter", "linear"])
    print(result.output)
    assert result.exit_code == 1, result.output  # failures make the exit code non-zero, the rest is saved
    assert "skipped 2 input(s)" in result.output
    assert "every pixel is NaN" in result.output and "neither PNG, TIFF nor JPEG" in result.output
    with safe_open(str(out), framework="pt") as fh:
        vectors = fh.get_tensor("embeddings")
        sources = fh.metadata()["sources"]
    assert vectors.shape[0] == len(good) and all(str(p) in sources for p in good)
    assert np.allclose(vectors.norm(dim=-1).numpy(), 1.0, atol=1e-5)
