"""Text and image end to end, through the public API and the command line, on real photos."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from safetensors import safe_open
from sklearn.datasets import __file__ as sklearn_datasets

from unibind import Space
from unibind.demo import quick_photos
from unibind_cli.main import cli

PHOTOS = Path(sklearn_datasets).parent / "images"


@pytest.fixture(scope="module")
def space():
    return Space()


def test_real_photos_land_on_the_right_label(space):
    labels = ["flower", "building", "dog", "car"]
    predictions, failures = space.classify([PHOTOS / "flower.jpg", PHOTOS / "china.jpg"], labels, top_k=4)
    assert failures == []
    got = {Path(p.source).name: p for p in predictions}
    for name, p in got.items():
        print(f"\n{name}: " + ", ".join(f"{s.label} p={s.probability:.3f} cos={s.similarity:.3f}" for s in p.top))
    assert got["flower.jpg"].label == "flower"
    assert got["china.jpg"].label == "building"
    assert all(0.0 <= p.entropy <= 1.3863 + 1e-6 for p in predictions)  # at most ln(4)


def test_space_embeddings_share_one_space_with_text(space):
    images = space.embed_files([PHOTOS / "flower.jpg", PHOTOS / "china.jpg"])
    texts = space.embed_text(["a photo of a flower.", "a photo of a building."])
    assert images.vectors.shape == (2, 384) and images.modality == "image"
    sims = images.vectors @ texts.T
    assert sims[0, 0] > sims[0, 1] and sims[1, 1] > sims[1, 0]


def test_embed_batch_skips_bad_files_and_finishes_the_rest(tmp_path):
    good = tmp_path / "flower.jpg"
    shutil.copy(PHOTOS / "flower.jpg", good)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[:2000])
    fake = tmp_path / "notes.png"
    fake.write_text("not a picture")
    out = tmp_path / "emb.safetensors"
    result = CliRunner().invoke(cli, ["embed", "image", str(good), str(truncated), str(fake),
                                      str(PHOTOS / "china.jpg"), "--out", str(out)])
    assert result.exit_code == 1
    assert "skipped 2 input(s)" in result.output
    assert str(truncated) in result.output and str(fake) in result.output
    with safe_open(str(out), framework="pt") as fh:
        assert fh.get_tensor("embeddings").shape == (2, 384)
        assert [Path(s).name for s in json.loads(fh.metadata()["sources"])] == ["flower.jpg", "china.jpg"]


def test_embed_expands_folders_to_image_files(tmp_path):
    for name in ("flower.jpg", "china.jpg"):
        shutil.copy(PHOTOS / name, tmp_path / name)
    (tmp_path / "readme.txt").write_text("ignored: not an image suffix")
    result = CliRunner().invoke(cli, ["embed", "image", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert sorted(Path(r["source"]).name for r in rows) == ["china.jpg", "flower.jpg"]
    assert all(len(r["embedding"]) == 384 for r in rows)
    assert "ignored 1 file(s)" in result.stderr and ".txt x1" in result.stderr  # said, not silently dropped


def test_classify_command_prints_json_predictions():
    result = CliRunner().invoke(cli, ["classify", str(PHOTOS / "flower.jpg"), "--labels", "dog, flower ,car",
                                      "--json"])
    assert result.exit_code == 0, result.output
    prediction = json.loads(result.stdout)      # notes (the fallback's, the calibration's) go to stderr
    # calibrated by the shipped default image calibrator (unibind/calibration/defaults/image.safetensors)
    assert prediction["label"] == "flower" and prediction["calibrated"] is True
    assert abs(sum(s["probability"] for s in prediction["top"]) - 1.0) < 1e-4


@pytest.mark.slow
def test_demo_runs_on_real_photos():
    photos = quick_photos()
    assert len(photos) >= 2
    result = CliRunner().invoke(cli, ["demo", "--quick"], terminal_width=160)
    assert result.exit_code == 0, result.output
    assert f"top-1 accuracy: " in result.output
    right, total = result.output.split("top-1 accuracy: ")[1].split()[0].split("/")
    print(result.output)
    assert int(total) == len(photos) and int(right) >= len(photos) // 2
