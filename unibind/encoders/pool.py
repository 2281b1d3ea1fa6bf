"""Frozen encoders built once and shared by the spaces and training runs of one job.

Building an encoder loads its weights (seconds on a CPU); ``unibind demo`` makes
five spaces and training runs over the same three encoders and built each of
them five times. A pool handed to :class:`~unibind.space.Space` (``pool=``),
:meth:`~unibind.features.extract.FrozenEncoder.from_registry` and
:func:`~unibind.training.pipeline.train_space` gives every one of them the same
built module instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class EncoderPool:
    """Encoders by (spec, validated settings, device): two users share one only where they would
    have built identical ones. A trainable encoder (``EncoderSpec.frozen`` False) changes as it
    trains, so it is built anew for each user, as without a pool."""

    def __init__(self) -> None:
        self._built: dict[tuple[str, str, str], Any] = {}

    def build(self, spec: Any, settings: Any = None, device: Any = None) -> Any:
        """``spec.build(settings)``, or the encoder this pool already built for the same settings and device."""
        if not getattr(spec, "frozen", True):
            return spec.build(settings)
        validated = spec.make_settings(settings)
        key = (spec.qualified_name, validated.model_dump_json() if validated is not None else "", str(device))
        if key not in self._built:
            self._built[key] = spec.build(validated)
        return self._built[key]

    def __len__(self) -> int:
        return len(self._built)


@contextmanager
def counting_builds() -> Iterator[Counter]:
    """Count every encoder construction by (spec, validated settings) while the block runs: what shows
    whether a pool is shared (the demo's test and ``scripts/demo_encoder_builds.py``)."""
    from unibind.specs import EncoderSpec

    built: Counter = Counter()
    original = EncoderSpec.build

    def counting(self: Any, settings: Any = None, **context: Any) -> Any:
        validated = self.make_settings(settings)
        built[(self.qualified_name, validated.model_dump_json() if validated is not None else "")] += 1
        return original(self, settings, **context)

    EncoderSpec.build = counting  # type: ignore[method-assign]
    try:
        yield built
    finally:
        EncoderSpec.build = original  # type: ignore[method-assign]
