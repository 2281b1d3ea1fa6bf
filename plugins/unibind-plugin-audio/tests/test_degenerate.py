"""Audio with no sound in it (silence, a constant level, one sample) is embedded, warned and recorded.

Such files all embed to nearly the same vector; before, nothing said so and a classifier's
confident answer for them looked like any other.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from unibind_plugin_audio.loading import AudioModality

from unibind.batching import prepared_batches
from unibind.errors import InputWarning
from unibind.space import Embeddings, _predictions

RATE = 16000


@pytest.fixture
def sounds(tmp_path: Path) -> dict[str, Path]:
    """Simulated recordings: three degenerate ones and a real tone."""
    t = np.arange(RATE) / RATE
    waves = {"silent": np.zeros(RATE), "one": np.array([0.3]), "constant": np.full(RATE, 1e30),
             "tone": 0.3 * np.sin(2 * np.pi * 440 * t)}
    out = {}
    for name, wave in waves.items():
        out[name] = tmp_path / f"{name}.wav"
        sf.write(out[name], wave.astype(np.float32), RATE, subtype="FLOAT")
    return out


class _FirstSamples:
    """A stand-in encoder: enough of the interface for prepared_batches."""

    def preprocess(self, sample):
        return sample.waveform[:1].clone()

    def collate(self, items):
        return torch.stack(items)


def test_the_loader_warns_about_each_degenerate_file(sounds) -> None:
    loader = AudioModality()
    expected = {"silent": "silent", "one": "1 sample", "constant": "constant signal (every sample 1e+30)"}
    for name, needle in expected.items():
        with pytest.warns(InputWarning, match=re.escape(needle)) as caught:
            loader.load(sounds[name])
        assert caught[0].message.source == str(sounds[name])
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        loader.load(sounds["tone"])  # a real sound: no warning


def test_batches_keep_degenerate_files_and_record_why(sounds) -> None:
    paths = list(sounds.values())
    batches = list(prepared_batches(paths, AudioModality(), _FirstSamples(), batch_size=3))
    kept = [s for b in batches for s in b.sources]
    noted = {Path(w.source).stem: w.reason for b in batches for w in b.warnings}
    assert kept == [str(p) for p in paths] and not any(b.failures for b in batches)
    assert set(noted) == {"silent", "one", "constant"}


def test_a_prediction_carries_the_warning_of_its_input() -> None:
    from unibind.results import Failure

    embedded = Embeddings(torch.eye(2), ["a.wav", "b.wav"], "audio",
                          warnings=[Failure(source="a.wav", reason="silent")])
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    found = _predictions(embedded, ["dog", "cat"], probs, probs, top_k=2, calibrated=False)
    assert [p.warnings for p in found] == [["silent"], []]
