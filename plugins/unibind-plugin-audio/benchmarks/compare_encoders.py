"""Compare candidate default audio encoders on real Tux Paint sounds (figures for the README).

Leave-one-out 1-nearest-neighbour accuracy (cosine) on:
- sound effects: birds vs mammals, and birds / mammals / speech / instruments;
- the 210 spoken digits: the digit (across 22 languages) and the language (one speaker each).

    .venv/bin/python plugins/unibind-plugin-audio/benchmarks/compare_encoders.py [baseline] [aisfx] [default] [cropped]

With no names it runs all four, aisfx only if its optional package is installed.

aisfx needs its optional package (``uv pip install --no-deps aisfx``, or
``uv pip install --no-deps --target DIR aisfx`` and ``PYTHONPATH=DIR``).
"""

from __future__ import annotations

import re
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from unibind.datasets import TUXPAINT_STAMPS, tuxpaint_stamps
from unibind_plugin_audio.clips import clip_waveforms
from unibind_plugin_audio.features import imagebind_fbank
from unibind_plugin_audio.loading import AudioModality
from unibind_plugin_audio.settings import ClipSettings, FbankSettings, SpectrogramImageSettings


def group(category: str) -> str:
    if category.startswith("animals/birds"):
        return "bird"
    if category.startswith(("animals/mammals", "animals/marsupials")):
        return "mammal"
    if category.startswith("symbols"):
        return "speech"
    if category.startswith("hobbies/music"):
        return "instrument"
    return "other"


def loo(x: torch.Tensor, labels: list[str]) -> tuple[float, float]:
    x = F.normalize(x, dim=-1)
    sims = x @ x.T
    sims.fill_diagonal_(-2.0)
    y = np.array(labels)
    pred = y[sims.argmax(1).numpy()]
    return float((pred == y).mean()), float(np.mean([(pred[y == c] == c).mean() for c in np.unique(y)]))


def mean_logmel(samples):
    fb = FbankSettings()
    return torch.stack([torch.stack([imagebind_fbank(c, fb) for c in clip_waveforms(s, ClipSettings(), 16000)])
                        .mean((0, 2)) for s in samples])


def main(which: list[str]) -> None:
    torch.set_num_threads(2)
    loader = AudioModality()
    sfx = [(s.sound, group(s.category)) for s in tuxpaint_stamps(with_sound=True)]
    digits = []
    for path in sorted((TUXPAINT_STAMPS / "symbols" / "math").glob("*.ogg")):
        m = re.fullmatch(r"(\d)(?:_(.+))?", path.stem)
        if m and not (m.group(2) or "").startswith("desc"):
            digits.append((path, m.group(1), m.group(2) or "en"))
    sfx_samples = [loader.load(p) for p, _ in sfx]
    digit_samples = [loader.load(p) for p, *_ in digits]
    encoders = {}
    if "baseline" in which:
        encoders["mean log-mel (128-d)"] = mean_logmel
    if "aisfx" in which:
        from unibind_plugin_audio.aisfx_encoder import AisfxEncoder

        encoders["aisfx, mean-pooled"] = AisfxEncoder().encode
    if "default" in which or "cropped" in which:
        from unibind_plugin_audio.spectrogram_image import build_spectrogram_image

        if "default" in which:
            encoders["spectrogram-image (default)"] = build_spectrogram_image(SpectrogramImageSettings()).encode
        if "cropped" in which:
            cropped = build_spectrogram_image(SpectrogramImageSettings(whole_picture=False))
            encoders["spectrogram-image, centre-cropped"] = cropped.encode
    print(f"{len(sfx)} sound effects, {len(digits)} spoken digits")
    for name, encode in encoders.items():
        start = time.perf_counter()
        xs, xd = encode(sfx_samples), encode(digit_samples)
        rows = {}
        for task, keep in (("birds vs mammals", {"bird", "mammal"}),
                           ("birds/mammals/speech/instruments", {"bird", "mammal", "speech", "instrument"})):
            idx = [i for i, (_, g) in enumerate(sfx) if g in keep]
            rows[task] = loo(xs[idx], [sfx[i][1] for i in idx])
        rows["digit (10, across languages)"] = loo(xd, [d for _, d, _ in digits])
        rows["language/speaker (22)"] = loo(xd, [lang for _, _, lang in digits])
        print(f"{name} ({time.perf_counter() - start:.0f} s)")
        for task, (acc, bal) in rows.items():
            print(f"  {task:34s} accuracy {acc:.3f}  balanced {bal:.3f}")


if __name__ == "__main__":
    from unibind_plugin_audio.aisfx_encoder import aisfx_available

    if sys.argv[1:]:
        main(sys.argv[1:])
    else:  # aisfx only when its optional package is installed (setup does not install it)
        if not aisfx_available():
            print("aisfx is not installed (uv pip install --no-deps aisfx): comparing the others")
        main(["baseline", *(["aisfx"] if aisfx_available() else []), "default", "cropped"])
