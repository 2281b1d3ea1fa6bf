"""Evaluation features through the one feature cache: content keys, resume, bad items skipped."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from unibind.encoders.base import Encoder
from unibind.errors import InputError
from unibind.evaluation.features import (
    array_fingerprint,
    cached_embeddings,
    cached_features,
    files_fingerprint,
)


class CountingEncoder(Encoder):
    """A toy encoder: a number -> [n, n^2, 1]; counts what it encodes."""

    modality = "toy"
    dim = 3

    def __init__(self):
        super().__init__()
        self.seen = 0
        self.weight = nn.Parameter(torch.ones(1))

    def preprocess(self, sample):
        return torch.tensor([float(sample), float(sample) ** 2, 1.0])

    def forward(self, batch):
        self.seen += len(batch)
        return batch * self.weight


def _space(encoder=None):
    encoder = encoder or CountingEncoder()
    pipe = SimpleNamespace(encoder=encoder, encoder_name="counting", adapter=nn.Identity(),
                           loader=SimpleNamespace(load=_load))
    spec = SimpleNamespace(make_settings=lambda values: None)
    return SimpleNamespace(pipeline=lambda modality: pipe, registry=SimpleNamespace(get=lambda kind, name: spec),
                           settings={}, dim=3)


def _load(path):
    text = Path(path).read_text()
    if text == "bad":
        raise InputError(path, "cannot read this")
    return float(text)


def _files(tmp_path, values):
    paths = []
    for n, value in enumerate(values):
        path = tmp_path / "data" / f"{n}.txt"
        path.parent.mkdir(exist_ok=True)
        path.write_text(str(value))
        paths.append(path)
    return paths


def test_in_memory_items_are_cached_by_content_and_resume(tmp_path):
    space = _space()
    items = [np.float32(i) for i in range(10)]
    first = cached_features(space, "toy", items, cache_root=tmp_path / "c")
    assert first.index == list(range(10)) and first.vectors[:, 0].tolist() == [float(i) for i in range(10)]
    assert space.pipeline("toy").encoder.seen == 10
    more = items + [np.float32(10), np.float32(11)]        # a longer set: only the new items are encoded
    again = cached_features(space, "toy", more, cache_root=tmp_path / "c")
    assert space.pipeline("toy").encoder.seen == 12
    assert torch.equal(again.vectors[:10], first.vectors) and again.vectors[11, 0] == 11.0


def test_new_weights_mean_new_features(tmp_path):
    space = _space()
    cached_features(space, "toy", [np.float32(1), np.float32(2)], cache_root=tmp_path)
    other = CountingEncoder()
    with torch.no_grad():
        other.weight.fill_(2.0)
    doubled = cached_features(_space(other), "toy", [np.float32(1), np.float32(2)], cache_root=tmp_path)
    assert doubled.vectors[:, 2].tolist() == [2.0, 2.0]


def test_files_are_keyed_by_content_not_path_or_time(tmp_path):
    space = _space()
    paths = _files(tmp_path, [1, 2, 3])
    first = cached_features(space, "toy", paths, load=_load, cache_root=tmp_path / "c")
    assert space.pipeline("toy").encoder.seen == 3
    renamed = paths[0].with_name("renamed.txt")
    paths[0].rename(renamed)
    paths[1].write_text("5")                                 # same name, new content
    again = cached_features(space, "toy", [renamed, *paths[1:]], load=_load, cache_root=tmp_path / "c")
    assert space.pipeline("toy").encoder.seen == 4           # only the edited file
    assert again.vectors[:, 0].tolist() == [1.0, 5.0, 3.0] and torch.equal(again.vectors[0], first.vectors[0])


def test_bad_items_are_skipped_reported_and_the_rest_finish(tmp_path):
    space = _space()
    paths = _files(tmp_path, [1, "bad", 3])
    feats = cached_embeddings(space, "toy", paths, load=_load, cache_root=tmp_path / "c")
    assert feats.index == [0, 2]
    assert [(f.source, f.reason) for f in feats.failures] == [(str(paths[1]), "cannot read this")]
    assert torch.allclose(feats.vectors.norm(dim=-1), torch.ones(2))


def test_damaged_shard_names_the_file(tmp_path):
    space = _space()
    cached_features(space, "toy", [np.float32(1)], cache_root=tmp_path)
    shard = next(tmp_path.rglob("*.npy"))
    shard.write_bytes(b"not numpy")
    with pytest.raises(InputError, match=f"{shard.name}.*unreadable feature-cache shard"):
        cached_features(space, "toy", [np.float32(1)], cache_root=tmp_path)


def test_fingerprints_change_with_content_and_recipe(tmp_path):
    a = np.zeros((2, 2), dtype=np.uint8)
    assert array_fingerprint(a) != array_fingerprint(a + 1)
    assert array_fingerprint(a, invert=True) != array_fingerprint(a, invert=False)
    f = tmp_path / "x.png"
    f.write_bytes(b"1")
    before = files_fingerprint([f])
    f.write_bytes(b"12")
    assert files_fingerprint([f]) != before
