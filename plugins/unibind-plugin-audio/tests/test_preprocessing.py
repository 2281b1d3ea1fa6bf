"""Clip sampling and the spectrogram recipes (ImageBind's fbank, aisfx's mel)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from unibind_plugin_audio.clips import clip_starts
from unibind_plugin_audio.features import AISFX_BLOCK_FRAMES, AISFX_MELS, AISFX_RATE, aisfx_mel, imagebind_fbank
from unibind_plugin_audio.loading import AudioModality
from unibind_plugin_audio.settings import ClipSettings, FbankSettings, SpectrogramImageSettings


def test_uniform_clips_follow_imagebind() -> None:
    """ImageBind's ConstantClipsPerVideoSampler: starts at k * (duration - clip) / (clips - 1)."""
    assert clip_starts(10.0, ClipSettings()) == pytest.approx([0.0, 4.0, 8.0])
    assert clip_starts(10.0, ClipSettings(clips_per_file=1)) == [0.0]
    assert clip_starts(0.5, ClipSettings()) == [0.0, 0.0, 0.0]  # shorter than a clip: the same padded clip


def test_random_clips_are_seeded_per_file() -> None:
    settings = ClipSettings(strategy="random", clips_per_file=4, seed=7)
    first = clip_starts(60.0, settings, key="a.wav")
    assert first == clip_starts(60.0, settings, key="a.wav")
    assert first != clip_starts(60.0, settings, key="b.wav")
    assert first != clip_starts(60.0, settings.model_copy(update={"seed": 8}), key="a.wav")
    assert all(0.0 <= s <= 58.0 for s in first) and first == sorted(first)


def test_centre_clips_sit_back_to_back_around_the_middle() -> None:
    settings = ClipSettings(strategy="centre")
    assert clip_starts(20.0, settings) == pytest.approx([7.0, 9.0, 11.0])
    assert clip_starts(3.0, settings) == pytest.approx([0.0, 0.5, 1.0])  # clamped inside the file
    assert clip_starts(1.0, settings) == [0.0, 0.0, 0.0]


def test_settings_document_the_imagebind_recipe() -> None:
    fb, clips = FbankSettings(), ClipSettings()
    assert (fb.sample_rate, fb.num_mel_bins, fb.frame_length_ms, fb.frame_shift_ms, fb.target_length) == \
        (16000, 128, 25.0, 10.0, 204)
    assert (fb.mean, fb.std) == (-4.268, 9.138)
    assert (clips.clip_seconds, clips.clips_per_file, clips.strategy) == (2.0, 3, "uniform")
    for model in (FbankSettings, ClipSettings, SpectrogramImageSettings):
        assert all(f.description for f in model.model_fields.values()), model.__name__


def test_fbank_matches_the_ast_feature_extractor(sound) -> None:
    """Our ImageBind fbank equals Hugging Face's AST extractor set to the same recipe, on a real sound."""
    from transformers import ASTFeatureExtractor

    sample = AudioModality().load(sound("rooster"))
    clip = sample.excerpt(0.0, 2.0, 16000)
    clip = clip - clip.mean()  # ImageBind removes the mean; the AST extractor does not
    fb = FbankSettings()
    ours = imagebind_fbank(clip, fb)
    hf = ASTFeatureExtractor(max_length=fb.target_length, mean=fb.mean, std=fb.std / 2)  # AST divides by 2*std
    theirs = hf(clip.numpy(), sampling_rate=16000, return_tensors="pt")["input_values"][0].T
    assert ours.shape == (128, 204)
    assert torch.allclose(ours, theirs, atol=1e-3), float((ours - theirs).abs().max())


def test_fbank_of_silence_is_finite_and_flat() -> None:
    out = imagebind_fbank(torch.zeros(32000), FbankSettings())
    frames = (32000 - 400) // 160 + 1  # 198 frames of audio; ImageBind pads the log-mel to 204 with zeros
    assert torch.isfinite(out).all()
    assert float(out[:, :frames].std()) < 1e-4  # the energy floor, the same everywhere
    assert torch.allclose(out[:, frames:], torch.tensor((0 - FbankSettings().mean) / FbankSettings().std))


def test_aisfx_mel_block_shape_and_silence() -> None:
    t = torch.arange(int(2.32 * AISFX_RATE)) / AISFX_RATE
    tone = 0.3 * torch.sin(2 * torch.pi * 1000 * t)
    mel = aisfx_mel(tone)
    assert mel.shape == (AISFX_BLOCK_FRAMES, AISFX_MELS) and torch.isfinite(mel).all()
    assert 0.0 <= float(mel.min()) and float(mel.max()) < 1.5  # log10(1e4 x + 1) over the paper's maximum
    # a 1 kHz tone lights the band around 1 kHz (HTK mel over 0-22.05 kHz: band ~24 of 96)
    band = int(mel.mean(0).argmax())
    assert 18 <= band <= 30, band
    assert float(aisfx_mel(torch.zeros(1000)).abs().max()) == 0.0  # silence: zeros, no division by zero


def test_aisfx_mel_is_loudness_invariant() -> None:
    """The paper peak-normalises the waveform, so a quiet copy gives the same input."""
    rng = np.random.default_rng(0)
    noise = torch.from_numpy(rng.standard_normal(AISFX_RATE).astype("float32")) * 0.2
    assert torch.allclose(aisfx_mel(noise), aisfx_mel(noise * 0.01), atol=1e-5)


def test_clip_settings_round_trip_through_encoder_settings(tmp_path: Path) -> None:
    settings = SpectrogramImageSettings(clips={"strategy": "random", "seed": 3})
    again = SpectrogramImageSettings.model_validate_json(settings.model_dump_json())
    assert again.clips.strategy == "random" and again == settings
