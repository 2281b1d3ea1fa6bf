"""Composites of real Tux Paint cut-outs (named composites: several real photos on one canvas)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from unibind.composites import Part, draw_groups, make_composites
from unibind.datasets import TUXPAINT_STAMPS

STAMPS = {"bird": "animals/birds/crow.png", "mammal": "animals/mammals/bovines/cow.png",
          "fruit": "food/fruit/apple_red.png"}


@pytest.fixture
def parts() -> list[Part]:
    return [Part(TUXPAINT_STAMPS / rel, label) for label, rel in STAMPS.items()]


def test_composites_hold_each_cutout_in_its_own_strip_with_distinct_labels(parts, tmp_path):
    made, failures = make_composites(parts, tmp_path, 4, per_image=(2, 3), size=192, seed=1)
    assert not failures and len(made) == 4
    for c in made:
        assert len(c.labels) == len(c.parts) and len(set(c.labels)) == len(c.labels)
        pixels = np.asarray(Image.open(c.path))
        assert pixels.shape == (192, 192, 3)
        strip = 192 // len(c.parts)
        for i in range(len(c.parts)):  # every strip has some of its cut-out on the white canvas
            assert (pixels[:, i * strip:(i + 1) * strip] < 240).any(-1).mean() > 0.02
    manifest = json.loads((tmp_path / "composites.json").read_text())
    assert [r["labels"] for r in manifest] == [list(c.labels) for c in made]
    assert all("not a real scene" in r["note"] for r in manifest)


def test_rerun_keeps_finished_files_and_remakes_a_missing_one_identically(parts, tmp_path):
    made, _ = make_composites(parts, tmp_path, 3, per_image=(2,), size=96, seed=2)
    stamp = {c.path: c.path.stat().st_mtime_ns for c in made}
    original = made[1].path.read_bytes()
    made[1].path.unlink()
    again, _ = make_composites(parts, tmp_path, 3, per_image=(2,), size=96, seed=2)
    assert [c.labels for c in again] == [c.labels for c in made]
    assert made[1].path.read_bytes() == original
    assert made[0].path.stat().st_mtime_ns == stamp[made[0].path]  # not rewritten
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_broken_cutout_skips_its_composites_and_names_the_file(parts, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    bad_parts = parts + [Part(broken, "tool")]
    made, failures = make_composites(bad_parts, tmp_path / "out", 12, per_image=(3,), seed=3)
    assert failures and all("broken.png" in f.reason for f in failures)
    assert len(made) + len(failures) == 12
    assert all("tool" not in c.labels for c in made)


def test_groups_need_enough_labels():
    with pytest.raises(ValueError, match="at least 3 labels"):
        draw_groups([Part(TUXPAINT_STAMPS / "x.png", "a"), Part(TUXPAINT_STAMPS / "y.png", "b")], 2)
