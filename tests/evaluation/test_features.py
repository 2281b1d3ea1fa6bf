"""The evaluation feature cache: parts on disk, resume, bad items skipped, keys that change with the data."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from unibind.encoders.base import Encoder
from unibind.errors import InputError
from unibind.evaluation.features import array_fingerprint, cached_embeddings, cached_features, files_fingerprint


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


def _load(item):
    if item == "bad":
        raise InputError(item, "cannot read this")
    return float(item)


def test_parts_resume_and_nothing_is_encoded_twice(tmp_path):
    space = _space()
    items = list(range(10))
    first = cached_features(space, "toy", items, "k1", cache_root=tmp_path, part_size=4)
    assert first.index == items and first.vectors[:, 0].tolist() == [float(i) for i in items]
    assert space.pipeline("toy").encoder.seen == 10
    parts = sorted(tmp_path.rglob("part-*.safetensors"))
    assert len(parts) == 3
    parts[1].unlink()                                    # as if killed before the second part was written
    again = cached_features(space, "toy", items, "k1", cache_root=tmp_path, part_size=4)
    assert space.pipeline("toy").encoder.seen == 14      # only the missing part (4 items) was encoded
    assert torch.equal(again.vectors, first.vectors) and again.index == items


def test_new_data_key_or_weights_means_new_cache(tmp_path):
    space = _space()
    cached_features(space, "toy", [1, 2], "k1", cache_root=tmp_path)
    cached_features(space, "toy", [1, 2], "k2", cache_root=tmp_path)
    assert space.pipeline("toy").encoder.seen == 4
    other = CountingEncoder()
    with torch.no_grad():
        other.weight.fill_(2.0)
    doubled = cached_features(_space(other), "toy", [1, 2], "k1", cache_root=tmp_path)
    assert doubled.vectors[:, 2].tolist() == [2.0, 2.0]


def test_bad_items_are_skipped_reported_and_the_rest_finish(tmp_path):
    space = _space()
    feats = cached_embeddings(space, "toy", ["1", "bad", "3"], "k", load=_load, cache_root=tmp_path)
    assert feats.index == [0, 2]
    assert [(f.source, f.reason) for f in feats.failures] == [("bad", "cannot read this")]
    assert torch.allclose(feats.vectors.norm(dim=-1), torch.ones(2))
    # the failure is remembered in the cache, not retried
    again = cached_embeddings(space, "toy", ["1", "bad", "3"], "k", load=_load, cache_root=tmp_path)
    assert again.failures == feats.failures and space.pipeline("toy").encoder.seen == 2


def test_damaged_part_names_the_file(tmp_path):
    space = _space()
    cached_features(space, "toy", [1, 2], "k", cache_root=tmp_path)
    part = next(tmp_path.rglob("part-*.safetensors"))
    part.write_bytes(b"not safetensors")
    with pytest.raises(InputError, match="part-00000000.safetensors.*delete it"):
        cached_features(space, "toy", [1, 2], "k", cache_root=tmp_path)


def test_fingerprints_change_with_content_and_recipe(tmp_path):
    a = np.zeros((2, 2), dtype=np.uint8)
    assert array_fingerprint(a) != array_fingerprint(a + 1)
    assert array_fingerprint(a, invert=True) != array_fingerprint(a, invert=False)
    f = tmp_path / "x.png"
    f.write_bytes(b"1")
    before = files_fingerprint([f])
    f.write_bytes(b"12")
    assert files_fingerprint([f]) != before
