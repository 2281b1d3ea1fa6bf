"""Evaluation sets: Fashion-MNIST pictures, the Tux Paint selection (real packaged data), class folders."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from unibind.datasets import fashion_mnist_images, tuxpaint_selection
from unibind.errors import InputError
from unibind.evaluation.data import folder_sets, parse_data


def test_fashion_mnist_images_are_rgb_and_invert():
    plain, labels = fashion_mnist_images("test", 3)
    inverted, _ = fashion_mnist_images("test", 3, invert=True)
    assert len(plain) == 3 and labels.shape == (3,) and plain[0].mode == "RGB" and plain[0].size == (28, 28)
    a, b = np.asarray(plain[0]), np.asarray(inverted[0])
    assert (a.astype(int) + b == 255).all()


def test_tuxpaint_selection_one_photo_per_stamp():
    chosen = tuxpaint_selection()
    names = {(s.category, s.name) for s, _ in chosen}
    assert len(names) == len(chosen)
    assert not any(n.endswith("_mirror") and (c, n.removesuffix("_mirror")) in names for c, n in names)
    labels = {label for _, label in chosen}
    assert labels == {"bird", "fish", "insect", "mammal", "fruit", "vegetable", "flower", "tool", "hat", "vehicle"}
    assert all(s.category.startswith("vehicles") for s, label in chosen if label == "vehicle")
    assert all(s.image.suffix == ".png" and "cartoon" not in s.image.parts for s, _ in chosen)


def test_tuxpaint_pairs_are_aligned():
    photo, sound = parse_data("tuxpaint-pairs:8")
    assert photo.pair_keys == sound.pair_keys and len(photo.items) == len(sound.items) == 8
    assert [p.stem for p in photo.items] == [s.stem for s in sound.items]
    assert (photo.labels == sound.labels).all() and photo.modality == "image" and sound.modality == "audio"


def test_folder_sets_by_modality(tmp_path):
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        Image.new("RGB", (8, 8), (10, 20, 30)).save(tmp_path / cls / "a.png")
        (tmp_path / cls / "notes.unknownsuffix").write_text("ignored")
        (tmp_path / cls / "b.txt").write_text(f"a {cls}")
    sets = {s.modality: s for s in folder_sets(tmp_path)}
    assert set(sets) >= {"image", "text"}
    assert sets["image"].class_names == ["cat", "dog"] and sets["image"].labels.tolist() == [0, 1]
    assert sets["image"].paths and sets["image"].names == ["a.png", "a.png"]


def test_bad_data_specs_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="unknown data"):
        parse_data("imagenet")
    (tmp_path / "only").mkdir()
    with pytest.raises(InputError, match="at least two class folders"):
        folder_sets(tmp_path)


def test_manifest_sets_pair_by_instance(tmp_path):
    import json

    lines = []
    for n, cls in enumerate(["cat", "dog", "cat"]):
        Image.new("RGB", (8, 8), (n, 0, 0)).save(tmp_path / f"{n}.png")
        (tmp_path / f"{n}.txt").write_text(f"a {cls}")
        lines.append({"path": str(tmp_path / f"{n}.png"), "label": cls, "instance": f"i{n}"})
        if n < 2:   # only two of the three have a text partner
            lines.append({"path": str(tmp_path / f"{n}.txt"), "label": cls, "modality": "text", "instance": f"i{n}"})
    manifest = tmp_path / "test.jsonl"
    manifest.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    sets = {s.modality: s for s in parse_data(str(manifest))}
    assert sets["image"].class_names == sets["text"].class_names == ["cat", "dog"]
    assert sets["image"].labels.tolist() == [0, 1, 0] and sets["image"].pair_keys == ["i0", "i1", "i2"]
    assert sets["text"].pair_keys == ["i0", "i1"]
    manifest.write_text('{"path": "x.png"}\n')
    with pytest.raises(InputError, match="line 1: needs a JSON object with 'path' and 'label'"):
        parse_data(str(manifest))
