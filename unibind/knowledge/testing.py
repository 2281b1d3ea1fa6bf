"""Deterministic stand-ins for testing the knowledge base without a model.

:class:`ScriptedSource` is also the smallest complete implementation of the
description-source interface (:mod:`unibind.knowledge.sources`): a
deterministic stream per (class, seed), ``start`` honoured, rejections with
reasons, optional delay and failure. The hashing text encoder
(:mod:`unibind.knowledge._hashing`, apart because it imports torch; it builds on
this module, never the other way) sums per-word random vectors (texts that share
words are similar) and counts what it encodes.
"""

from __future__ import annotations

import hashlib
import random
import time
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from unibind.knowledge.records import ClassRef, DescriptionDraft, Rejected, SampleRef

VOCABULARY = ("small", "large", "furry", "striped", "wet", "loud", "quiet", "red", "green", "shiny", "old",
              "young", "running", "sleeping", "eating", "in a field", "on a table", "at night", "in the snow",
              "near water", "with a ball", "in a cage", "on a road", "under a tree")


class ScriptedSettings(BaseModel):
    """Settings of the scripted test source."""

    items: int = Field(default=40, ge=0, description="Length of the stream per class.")
    delay: float = Field(default=0.0, ge=0, description="Seconds of sleep before each item (a slow LLM).")
    reject_every: int = Field(default=7, ge=0,
                              description="Every n-th item is rejected as off_class (0: never).")
    repeat_every: int = Field(default=5, ge=0, description="Every n-th item repeats an earlier text, "
                              "re-cased and re-punctuated (0: never).")
    fail_at: int = Field(default=-1, description="Raise at this item index while fail_flag exists.")
    fail_flag: str = Field(default="", description="File whose existence arms fail_at.")


class ScriptedSource:
    """A deterministic description source with rejections, repeats, delay and failure on demand."""

    model = "scripted-v1"
    prompt = "describe a {}"

    def __init__(self, settings: ScriptedSettings | None = None):
        self.settings = settings or ScriptedSettings()

    def stream(self, cls: ClassRef, seed: int) -> list[DescriptionDraft | Rejected]:
        """The whole stream for (class, seed): what ``describe`` walks through."""
        s = self.settings
        rng = random.Random(f"{cls.key}:{seed}")
        out: list[DescriptionDraft | Rejected] = []
        texts: list[str] = []
        for i in range(s.items):
            if s.reject_every and i % s.reject_every == s.reject_every - 1:
                teapot = f"a picture of a {rng.choice(VOCABULARY)} teapot"
                out.append(Rejected(reason="off_class", text=teapot))
                continue
            if s.repeat_every and texts and i % s.repeat_every == s.repeat_every - 1:
                text = rng.choice(texts).upper().rstrip(".") + " !"
            else:
                words = rng.sample(VOCABULARY, 3)
                text = f"A {words[0]} {cls.text_name} {words[1]}, {words[2]} (#{i})."
                texts.append(text)
            out.append(DescriptionDraft(text=text, prompt=f"describe a {cls.text_name}", meta={"index": i}))
        return out

    def describe(self, cls: ClassRef, n: int, *, modality: str | None = None, seed: int = 0,
                 start: int = 0) -> Iterator[DescriptionDraft | Rejected]:
        s = self.settings
        for i, item in enumerate(self.stream(cls, seed)[start:], start=start):
            if s.delay:
                time.sleep(s.delay)
            if i == s.fail_at and s.fail_flag and Path(s.fail_flag).exists():
                raise RuntimeError(f"scripted failure at item {i}")
            yield item


class ScriptedCaptioner:
    """Captions a sample with its file name and a hash-derived word (deterministic)."""

    model = "scripted-captioner"
    prompt = "caption this"

    def caption(self, samples: Sequence[SampleRef], *, n: int = 1,
                seed: int = 0) -> Iterator[tuple[int, DescriptionDraft | Rejected]]:
        for index, sample in enumerate(samples):
            if Path(sample.path).stat().st_size < 4:
                yield index, Rejected(reason="too_small", detail=sample.path)
                continue
            for j in range(n):
                word = VOCABULARY[int(sample.sha256[:8], 16) % len(VOCABULARY)]
                yield index, DescriptionDraft(text=f"{Path(sample.path).stem} {word} view {j}",
                                              modality=sample.modality)


class HashingSettings(BaseModel):
    """Settings of the hashing test text encoder."""

    dim: int = Field(default=64, ge=2)
    salt: str = Field(default="", description="Changes every vector (a different 'model').")


def word_vector(word: str, dim: int, salt: str = "") -> np.ndarray:
    seed = zlib.crc32(hashlib.sha256(f"{salt}:{word}".encode()).digest())
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


def hashing_embed(text: str, dim: int, salt: str = "") -> np.ndarray:
    """Sum of per-word vectors of the lower-cased words of ``text``."""
    words = "".join(ch if ch.isalnum() else " " for ch in text.casefold()).split() or ["<empty>"]
    return np.sum([word_vector(w, dim, salt) for w in words], axis=0)


def hashing_encoder_spec(**fields):
    """The spec of the hashing text encoder, the text modality's default (for tests' fake plugins)."""
    from unibind.specs import EncoderSpec

    return EncoderSpec(**{"name": "hashing", "modality": "text", "default": True, "priority": 100,
                          "factory": "unibind.knowledge._hashing:HashingTextEncoder",
                          "settings": "unibind.knowledge.testing:HashingSettings", **fields})


def scripted_source_spec():
    """The spec of :class:`ScriptedSource` as the description source ``scripted``."""
    from unibind.specs import DescriptionSourceSpec

    return DescriptionSourceSpec(name="scripted", factory="unibind.knowledge.testing:ScriptedSource",
                                 settings="unibind.knowledge.testing:ScriptedSettings")


def scripted_captioner_spec(modalities: Sequence[str] = ("text",)):
    """The spec of :class:`ScriptedCaptioner` as the captioner ``fake-captioner``."""
    from unibind.specs import DescriptionSourceSpec

    return DescriptionSourceSpec(name="fake-captioner", factory="unibind.knowledge.testing:ScriptedCaptioner",
                                 produces=("sample_captions",), modalities=tuple(modalities))
