"""EncoderPool: spaces and training runs of one job share a built frozen encoder, never a different one.

The hashing text encoder stands in for a real model (nothing to load).
"""

from __future__ import annotations

import torch

from unibind.encoders.pool import EncoderPool
from unibind.features.extract import FrozenEncoder
from unibind.knowledge.testing import hashing_encoder_spec
from unibind.space import Space


def test_spaces_with_one_pool_share_equal_encoders_and_build_others_apart(fake_text_registry):
    registry = fake_text_registry()
    pool = EncoderPool()
    a = Space(registry=registry, settings={"hashing": {"dim": 64}}, pool=pool)
    b = Space(registry=registry, settings={"hashing": {"dim": 64}}, pool=pool)
    other = Space(registry=registry, settings={"hashing": {"dim": 32}}, pool=pool)
    alone = Space(registry=registry, settings={"hashing": {"dim": 64}})
    assert a.pipeline("text").encoder is b.pipeline("text").encoder
    assert other.pipeline("text").encoder is not a.pipeline("text").encoder and other.dim == 32
    assert alone.pipeline("text").encoder is not a.pipeline("text").encoder
    assert len(pool) == 2
    assert torch.equal(a.embed_text(["a dog"]), alone.embed_text(["a dog"]))
    frozen = FrozenEncoder.from_registry("text", registry=registry, settings={"hashing": {"dim": 64}}, pool=pool)
    assert frozen.encoder is a.pipeline("text").encoder and len(pool) == 2


def test_a_trainable_encoder_is_never_shared():
    pool = EncoderPool()
    frozen, trainable = hashing_encoder_spec(), hashing_encoder_spec(frozen=False)
    assert pool.build(frozen, {"dim": 16}) is pool.build(frozen, {"dim": 16})
    assert pool.build(trainable, {"dim": 16}) is not pool.build(trainable, {"dim": 16})
    assert pool.build(frozen, {"dim": 16}, "cpu") is not pool.build(frozen, {"dim": 16}, "meta")
