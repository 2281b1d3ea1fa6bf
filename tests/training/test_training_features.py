"""Feature cache through training's names: encoders run once per content, shards resume after a kill,
any key change invalidates."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import training_fakes as fakes

from unibind.training.features import CachedRows, FeatureCache, FrozenEncoder, extract_features


def _files(tmp_path, n, start=0):
    gen = np.random.default_rng(start)
    return [fakes.write_vec(tmp_path / "data" / f"s{i}.vec", gen.standard_normal(fakes.DIM_IN))
            for i in range(start, start + n)]


def test_second_extraction_encodes_nothing_and_returns_the_same_features(tmp_path, fake_registry):
    paths = _files(tmp_path, 7)
    frozen = FrozenEncoder.from_registry("vec", registry=fake_registry)
    cache = FeatureCache(tmp_path / "cache", frozen.identity, shard_rows=3)
    fakes.CountingEncoder.calls = 0
    first = extract_features(paths, frozen, cache, batch_size=2)
    assert first.encoded == 7 and fakes.CountingEncoder.calls == 7
    assert len(list(cache.dir.glob("*.npy"))) == 3  # 3 + 3 + 1 rows
    again = extract_features(paths, frozen, FeatureCache(tmp_path / "cache", frozen.identity), batch_size=2)
    assert again.encoded == 0 and fakes.CountingEncoder.calls == 7
    assert torch.equal(first.vectors, again.vectors)
    expected = frozen.encoder(torch.stack([frozen.encoder.preprocess(frozen.loader.load(p)) for p in paths]))
    assert torch.allclose(again.vectors, expected, atol=1e-6)
    # shards are plain .npy arrays read through memory maps
    rows = CachedRows(cache, again.hashes)
    assert isinstance(cache._shard(next(cache.dir.glob("*.npy")).stem), np.memmap)
    assert torch.equal(rows[torch.tensor([4, 1])], again.vectors[[4, 1]])


def test_identical_content_is_encoded_and_stored_once(tmp_path, fake_registry):
    a = fakes.write_vec(tmp_path / "a.vec", range(6))
    b = fakes.write_vec(tmp_path / "copy" / "b.vec", range(6))
    frozen = FrozenEncoder.from_registry("vec", registry=fake_registry)
    cache = FeatureCache(tmp_path / "cache", frozen.identity)
    out = extract_features([a, b], frozen, cache)
    assert out.encoded == 1 and out.sources == [str(a), str(b)] and len(cache) == 1
    assert torch.equal(out.vectors[0], out.vectors[1])


def test_changing_a_preprocessing_setting_or_the_file_invalidates(tmp_path, fake_registry):
    paths = _files(tmp_path, 3)
    root = tmp_path / "cache"
    plain = FrozenEncoder.from_registry("vec", registry=fake_registry)
    extract_features(paths, plain, FeatureCache(root, plain.identity))
    scaled = FrozenEncoder.from_registry("vec", registry=fake_registry, settings={"counting": {"scale": 2.0}})
    out = extract_features(paths, scaled, FeatureCache(root, scaled.identity))
    assert out.encoded == 3, "a new preprocessing setting must not reuse old features"
    fakes.write_vec(paths[0], np.ones(fakes.DIM_IN))  # edit one file's content
    again = extract_features(paths, scaled, FeatureCache(root, scaled.identity))
    assert again.encoded == 1
    assert len({p.name for p in root.iterdir() if p.is_dir()}) == 2  # one directory per encoder identity


def test_bad_files_are_skipped_and_reported_the_rest_finish(tmp_path, fake_registry):
    good = _files(tmp_path, 2)
    short = tmp_path / "short.vec"
    short.write_text("1 2 3")
    missing = tmp_path / "missing.vec"
    frozen = FrozenEncoder.from_registry("vec", registry=fake_registry)
    out = extract_features([good[0], short, missing, good[1]], frozen, FeatureCache(tmp_path / "c", frozen.identity))
    assert out.sources == [str(good[0]), str(good[1])] and out.vectors.shape == (2, fakes.DIM_OUT)
    reasons = {f.source: f.reason for f in out.failures}
    assert "expected 6 numbers" in reasons[str(short)] and "cannot read" in reasons[str(missing)]


def test_a_kill_mid_extraction_loses_only_the_unflushed_rows(tmp_path, fake_registry, monkeypatch):
    paths = _files(tmp_path, 10)
    frozen = FrozenEncoder.from_registry("vec", registry=fake_registry)
    cache = FeatureCache(tmp_path / "cache", frozen.identity, shard_rows=4)
    real_forward = fakes.CountingEncoder.forward
    seen = []

    def dying(self, batch):
        seen.append(len(batch))
        if sum(seen) > 6:
            raise KeyboardInterrupt("killed")
        return real_forward(self, batch)

    monkeypatch.setattr(fakes.CountingEncoder, "forward", dying)
    with pytest.raises(KeyboardInterrupt):
        extract_features(paths, frozen, cache, batch_size=2)
    monkeypatch.setattr(fakes.CountingEncoder, "forward", real_forward)
    (cache.dir / "unindexed-shard.npy").write_bytes(b"half-written")  # a shard whose rows were never indexed
    resumed = FeatureCache(tmp_path / "cache", frozen.identity, shard_rows=4)
    assert len(resumed) == 4  # the committed shard survived
    out = extract_features(paths, frozen, resumed, batch_size=2)
    assert out.encoded == 6 and len(out.sources) == 10
    assert len(resumed) == 10 and resumed.written == 6  # nothing duplicated, nothing lost
    assert torch.allclose(out.vectors, extract_features(paths, frozen, None).vectors, atol=1e-6)


def test_train_and_eval_see_one_cache_for_one_encoder(tmp_path, fake_registry):
    from unibind.evaluation.features import cached_features
    from unibind.space import Space

    paths = _files(tmp_path, 4)
    frozen = FrozenEncoder.from_registry("vec", registry=fake_registry)
    space = Space(registry=fake_registry, adapters={"vec": "linear"})
    assert FrozenEncoder.from_space(space, "vec").identity == frozen.identity
    trained = extract_features(paths, frozen, FeatureCache(tmp_path / "cache", frozen.identity))
    fakes.CountingEncoder.calls = 0
    evaluated = cached_features(space, "vec", paths, load=space.pipeline("vec").loader.load,
                                cache_root=tmp_path / "cache")
    assert fakes.CountingEncoder.calls == 0 and evaluated.encoded == 0      # eval reused training's rows
    assert torch.equal(evaluated.vectors, trained.vectors)
