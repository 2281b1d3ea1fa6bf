"""Centre sets: what their errors name, what selecting keeps, what the benchmark's rates mean."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from unibind.errors import InputError
from unibind.knowledge.centres import (
    CentreClass,
    CentreMeta,
    CentreSet,
    CentreSettings,
    CentreText,
    bench_centres,
    centre_tensor,
)


def _centres(path=None):
    groups = [F.normalize(torch.randn(k, 4, generator=torch.Generator().manual_seed(k)), dim=-1) for k in (1, 2)]
    centres, mask = centre_tensor(groups)
    classes = [CentreClass(name=name, class_id=cid, texts=[CentreText(text=f"{name} {i}", source="s")
                                                             for i in range(len(g))])
               for name, cid, g in zip(("dog", "cat"), ("n02084071", None), groups)]
    meta = CentreMeta(settings=CentreSettings(), encoder={"encoder": "hashing"}, encoder_hash="abc123", dim=4,
                      classes=classes)
    return CentreSet(centres, mask, meta, path)


def test_selecting_classes_keeps_the_file_they_came_from():
    full = _centres(Path("centres.safetensors"))
    picked = full.select(["CAT", "n02084071"])
    assert picked.labels == ["cat", "dog"] and picked.path == Path("centres.safetensors")
    assert torch.equal(picked.centres[0], full.centres[1]) and picked.counts == [2, 1]


def test_a_foreign_text_space_is_refused_naming_the_encoder():
    centres = _centres(Path("c.safetensors"))
    centres.check_encoder("abc123")
    with pytest.raises(InputError, match=r"made with text encoder 'hashing' \(identity abc123\).*identity zzz"):
        centres.check_encoder("zzz")


def test_the_benchmark_rates_are_queries_per_second():
    r = bench_centres(classes=8, k=4, dim=16, queries=256, seed=1)
    assert r["ours_queries_per_s"] == pytest.approx(256 / r["ours_s"])
    assert r["bare_queries_per_s"] == pytest.approx(256 / r["bare_s"])
    assert r["ratio"] == pytest.approx(r["bare_s"] / r["ours_s"]) and r["agrees_with_reference"] is True
