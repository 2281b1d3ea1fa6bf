"""Resampling with torchaudio, kept cheap for odd sample rates.

``torchaudio.functional.resample`` builds one filter per output phase, and
the number of phases is the rate ratio in lowest terms: 44100 -> 16000 is
441/160, but an odd rate such as 11127 Hz (a real Tux Paint file) is
11127/16000, a 16000 x 11161 kernel (0.7 GB) per call. Such ratios are
replaced by the nearest ratio with at most ``MAX_PHASES`` in both terms
(relative pitch/length error below 1e-5, inaudible and of the order of the
clock drift between recording devices).
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import torch
import torchaudio.functional as AF

MAX_PHASES = 1000


@lru_cache(maxsize=256)
def resample_ratio(orig: int, new: int) -> tuple[int, int]:
    """``(p, q)`` with ``p / q`` equal (or within 1e-5) to ``orig / new`` and both at most ``MAX_PHASES``."""
    exact = Fraction(orig, new)
    if exact.numerator <= MAX_PHASES and exact.denominator <= MAX_PHASES:
        return exact.numerator, exact.denominator
    best = None
    for limit in range(MAX_PHASES, 0, -1):  # the closest fraction whose terms both fit
        approx = exact.limit_denominator(limit)
        if approx.numerator <= MAX_PHASES:
            best = approx
            break
    assert best is not None
    return best.numerator, best.denominator


def resample(wave: torch.Tensor, orig: int, new: int) -> torch.Tensor:
    """``wave`` (last axis: time) from ``orig`` Hz to ``new`` Hz with torchaudio's windowed sinc."""
    if orig == new:
        return wave
    p, q = resample_ratio(orig, new)
    return AF.resample(wave, p, q)
