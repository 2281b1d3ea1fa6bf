"""The default encoder tells real sounds apart: Tux Paint's sound effects and spoken digits.

Leave-one-out nearest-neighbour accuracy (cosine) on real recordings, against
the same measure with the labels shuffled (a permutation test), so "better
than chance" is checked, not assumed.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from unibind_plugin_audio.loading import AudioModality
from unibind_plugin_audio.settings import SpectrogramImageSettings
from unibind_plugin_audio.spectrogram_image import SpectrogramImageEncoder


def sound_group(category: str) -> str | None:
    """Coarse classes of Tux Paint's sound effects with enough members to measure."""
    if category.startswith("animals/birds"):
        return "bird"
    if category.startswith(("animals/mammals", "animals/marsupials")):
        return "mammal"
    if category.startswith("symbols"):
        return "speech"  # spoken letters, digits, feelings
    if category.startswith("hobbies/music"):
        return "instrument"
    return None


def loo_accuracy(features: torch.Tensor, labels: list[str]) -> tuple[float, float]:
    """Leave-one-out 1-NN accuracy and balanced accuracy (mean per-class recall)."""
    x = F.normalize(features, dim=-1)
    sims = x @ x.T
    sims.fill_diagonal_(-2.0)
    y = np.array(labels)
    predicted = y[sims.argmax(1).numpy()]
    balanced = float(np.mean([(predicted[y == c] == c).mean() for c in np.unique(y)]))
    return float((predicted == y).mean()), balanced


def permutation_p_value(features: torch.Tensor, labels: list[str], observed: float, rounds: int = 200) -> float:
    rng = np.random.default_rng(0)
    hits = sum(loo_accuracy(features, list(rng.permutation(labels)))[1] >= observed for _ in range(rounds))
    return (hits + 1) / (rounds + 1)


@pytest.mark.slow
def test_default_encoder_separates_real_sound_effect_classes(spectrogram_encoder, stamps_with_sound) -> None:
    """Birds, mammals, speech and instruments among Tux Paint's real sound effects (96 recordings)."""
    chosen = [(s.sound, sound_group(s.category)) for s in stamps_with_sound if sound_group(s.category)]
    loader = AudioModality()
    features = spectrogram_encoder.encode([loader.load(p) for p, _ in chosen], batch_size=16)
    labels = [g for _, g in chosen]
    accuracy, balanced = loo_accuracy(features, labels)
    p_value = permutation_p_value(features, labels, balanced)
    majority = max(Counter(labels).values()) / len(labels)
    print(f"\nTux Paint sound effects {dict(Counter(labels))}: leave-one-out 1-NN accuracy {accuracy:.3f} "
          f"(majority class {majority:.3f}), balanced {balanced:.3f} (chance 0.25), permutation p={p_value:.3f}")
    assert balanced > 0.5 and accuracy > majority
    assert p_value < 0.01


@pytest.mark.slow
def test_default_encoder_tells_speakers_apart_in_spoken_digits(spectrogram_encoder, spoken_digits) -> None:
    """Tux Paint's spoken digits: which recording session (language/speaker) a digit comes from.

    Every language's ten digits were recorded by one speaker, so this measures
    speaker/language identity, not the digit (the words differ between
    languages; digit identity across languages is at chance for every
    encoder measured, see the README). Six languages, 10 digits each.
    """
    languages = ["en", "de", "es", "fr", "ja", "ko"]
    chosen = [(p, lang) for p, _, lang in spoken_digits if lang in languages]
    assert len(chosen) == 60
    # every spoken digit is shorter than a clip, so the three default clips are the same one:
    # one clip gives the same embedding at a third of the cost
    assert all(AudioModality().load(p).duration < 2.0 for p, _ in chosen)
    one_clip = SpectrogramImageEncoder(SpectrogramImageSettings(clips={"clips_per_file": 1}),
                                       spectrogram_encoder.image)
    loader = AudioModality()
    features = one_clip.encode([loader.load(p) for p, _ in chosen], batch_size=16)
    labels = [lang for _, lang in chosen]
    accuracy, balanced = loo_accuracy(features, labels)
    p_value = permutation_p_value(features, labels, balanced)
    print(f"\nspoken digits, {len(languages)} speakers/languages x 10 digits: leave-one-out 1-NN accuracy "
          f"{accuracy:.3f} (chance {1 / len(languages):.3f}), permutation p={p_value:.3f}")
    assert accuracy > 2 / len(languages) and p_value < 0.01


def test_short_files_give_the_same_embedding_with_one_clip_or_three(spectrogram_encoder, spoken_digits) -> None:
    sample = AudioModality().load(spoken_digits[0][0])
    one_clip = SpectrogramImageEncoder(SpectrogramImageSettings(clips={"clips_per_file": 1}),
                                       spectrogram_encoder.image)
    assert torch.allclose(one_clip.encode([sample]), spectrogram_encoder.encode([sample]), atol=1e-5)
