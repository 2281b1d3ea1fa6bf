"""The encoders: spectrogram-image (the default), CLAP and AST on tiny local models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F

from unibind.errors import NotRegisteredError, SettingsError, UniBindError
from unibind.plugins import get_registry
from unibind_plugin_audio.hf_encoders import ASTEncoder, ClapEncoder
from unibind_plugin_audio.loading import AudioModality
from unibind_plugin_audio.settings import ASTSettings, ClapSettings, ClipSettings, SpectrogramImageSettings
from unibind_plugin_audio.spectrogram_image import SpectrogramImageEncoder


# -- spectrogram-image ---------------------------------------------------------------------------

def test_default_is_spectrogram_image_on_the_image_default(spectrogram_encoder) -> None:
    registry = get_registry()
    assert registry.default("encoder", "audio").name == "spectrogram-image"
    assert registry.default("adapter", "audio").name == "imagenet-bridge"
    assert SpectrogramImageEncoder.image_encoder_spec(None).name == registry.default("encoder", "image").name
    assert spectrogram_encoder.dim == spectrogram_encoder.image.dim == 1280
    assert spectrogram_encoder.imagenet_head() is spectrogram_encoder.image.imagenet_head()
    assert not any(p.requires_grad for p in spectrogram_encoder.parameters())


def test_whole_spectrogram_is_seen_by_the_image_encoder(spectrogram_encoder) -> None:
    """No centre crop of the picture for timm-based encoders; none forced on encoders without crop_pct."""

    assert spectrogram_encoder.image.data_config["crop_pct"] == 1.0
    registry = get_registry()
    settings = SpectrogramImageSettings()
    assert SpectrogramImageEncoder.image_encoder_settings(settings, registry.get("encoder", "efficientnet-lite0")) == {"crop_pct": 1.0}
    assert SpectrogramImageEncoder.image_encoder_settings(settings, registry.get("encoder", "hf-vision")) is None
    kept = SpectrogramImageSettings(whole_picture=False)
    assert SpectrogramImageEncoder.image_encoder_settings(kept, registry.get("encoder", "efficientnet-lite0")) is None


def test_image_encoder_is_chosen_by_registered_name() -> None:
    with pytest.raises(NotRegisteredError, match="no encoder named 'nope'"):
        SpectrogramImageEncoder.image_encoder_spec("nope")
    with pytest.raises(SettingsError, match="'minilm' encodes 'text'"):
        SpectrogramImageEncoder.image_encoder_spec("minilm")


def test_pictures_put_low_pitch_at_the_bottom(spectrogram_encoder, tone, tmp_path: Path) -> None:
    low = AudioModality().load(tone(tmp_path / "low.wav", freq=200.0, seconds=2.0))
    high = AudioModality().load(tone(tmp_path / "high.wav", freq=6000.0, seconds=2.0))
    rows = {name: np.asarray(spectrogram_encoder.pictures(s)[0].convert("L"), dtype=float).mean(1)
            for name, s in (("low", low), ("high", high))}
    side = len(rows["low"])
    assert int(rows["low"].argmax()) > 0.8 * side   # bright row near the bottom
    assert int(rows["high"].argmax()) < 0.5 * side  # bright row in the upper half


def test_silent_and_very_short_files_embed_to_finite_vectors(spectrogram_encoder, tmp_path: Path) -> None:
    sf.write(str(tmp_path / "silence.wav"), np.zeros(8000, dtype="float32"), 16000)
    sf.write(str(tmp_path / "click.wav"), np.array([0.9, -0.9], dtype="float32"), 16000)
    loader = AudioModality()
    silence, click = loader.load(tmp_path / "silence.wav"), loader.load(tmp_path / "click.wav")
    assert silence.flags.silent
    picture = np.asarray(spectrogram_encoder.pictures(silence)[0])
    assert picture[:, : picture.shape[1] // 2].std() == 0  # silence is one flat grey, not a stretched 0/0
    out = spectrogram_encoder.encode([silence, click])
    assert out.shape == (2, 1280) and torch.isfinite(out).all()


def test_clip_pooling_sees_the_whole_file(spectrogram_encoder, sound) -> None:
    """Three uniform clips of the 10-s fire truck embed differently from its first clip alone."""
    sample = AudioModality().load(sound("firetruck"))
    one = spectrogram_encoder.image.encode(spectrogram_encoder.pictures(sample)[:1])
    pooled = spectrogram_encoder.encode([sample])
    all_three = spectrogram_encoder.image.encode(spectrogram_encoder.pictures(sample)).mean(0, keepdim=True)
    assert torch.allclose(pooled, all_three, atol=1e-4)
    assert F.cosine_similarity(pooled, one).item() < 0.999


def test_imagenet_bridge_serves_audio(spectrogram_encoder, fake_text_encoder, sound) -> None:
    """Training-free audio in the text space: the image plugin's ConSE bridge serves any encoder with a head."""
    spec = get_registry().get("adapter", "imagenet-bridge")
    assert spec.requires == "imagenet_head" and not spec.trainable
    bridge = spec.build(encoder=spectrogram_encoder, text_encoder=fake_text_encoder)
    out = bridge(spectrogram_encoder.encode([AudioModality().load(sound("cow"))]))
    assert out.shape == (1, fake_text_encoder.dim)
    assert torch.allclose(out.norm(dim=-1), torch.ones(1), atol=1e-5)


# -- CLAP -----------------------------------------------------------------------------------------

def test_clap_uses_its_own_extractor_and_projection(tiny_clap_dir: Path, sound) -> None:
    from transformers import ClapFeatureExtractor, ClapModel

    encoder = get_registry().get("encoder", "clap").build({"model": str(tiny_clap_dir)})
    assert isinstance(encoder, ClapEncoder) and encoder.dim == 16 and encoder.rate == 48000
    assert encoder.clips.clip_seconds == pytest.approx(1.0)  # the tiny extractor's max_length_s
    sample = AudioModality().load(sound("rooster"))
    out = encoder.encode([sample])
    # the same audio through transformers directly: centred 1-s clip at 48 kHz
    start = (sample.duration - 1.0) / 2
    clip = sample.excerpt(start, 1.0, 48000).numpy()
    inputs = ClapFeatureExtractor.from_pretrained(tiny_clap_dir)(clip, sampling_rate=48000, return_tensors="pt",
                                                                truncation="rand_trunc")
    model = ClapModel.from_pretrained(tiny_clap_dir).eval()
    with torch.no_grad():
        direct = model.get_audio_features(**inputs)
    direct = direct if isinstance(direct, torch.Tensor) else direct.pooler_output
    assert torch.allclose(out, F.normalize(direct, dim=-1), atol=1e-4)


def test_clap_is_zero_shot_without_an_adapter(tiny_clap_dir: Path, sound) -> None:
    """zero_shot() gives what ClapModel's own audio-text logits give (tiny random model: mechanics only)."""
    from transformers import AutoTokenizer, ClapModel

    encoder = ClapEncoder(ClapSettings(model=str(tiny_clap_dir)))
    samples = [AudioModality().load(sound(n)) for n in ("dog", "duck")]
    labels = ["dog", "bird", "bell"]
    probs = encoder.zero_shot(samples, labels, template="the sound of a {label}")
    assert probs.shape == (2, 3) and torch.allclose(probs.sum(-1), torch.ones(2))
    tokens = AutoTokenizer.from_pretrained(tiny_clap_dir)([f"the sound of a {lb}" for lb in labels],
                                                          padding=True, return_tensors="pt")
    batch = encoder.collate([encoder.preprocess(s) for s in samples])
    model = ClapModel.from_pretrained(tiny_clap_dir).eval()
    with torch.no_grad():
        logits = model(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"],
                       input_features=batch["input_features"][:, 0], is_longer=batch["is_longer"][:, 0]
                       ).logits_per_audio
    assert torch.allclose(probs, logits.softmax(-1), atol=1e-4)


def test_clap_several_clips_are_pooled(tiny_clap_dir: Path, sound) -> None:
    clips = ClipSettings(clip_seconds=1.0, clips_per_file=3)
    encoder = ClapEncoder(ClapSettings(model=str(tiny_clap_dir), clips=clips))
    sample = AudioModality().load(sound("firetruck"))
    inputs = encoder.preprocess(sample)
    assert inputs["input_features"].shape[0] == 3
    out = encoder.encode([sample])
    assert out.shape == (1, 16) and torch.isfinite(out).all()


# -- AST ------------------------------------------------------------------------------------------

def test_ast_pooled_output_from_a_classification_checkpoint(tiny_ast_dir: Path, sound) -> None:
    from transformers import ASTFeatureExtractor, ASTForAudioClassification

    encoder = get_registry().get("encoder", "ast").build({"model": str(tiny_ast_dir)})
    assert isinstance(encoder, ASTEncoder) and encoder.dim == 32 and encoder.rate == 16000
    assert encoder.clips.clip_seconds == pytest.approx(1.015)  # 100 frames of 25 ms every 10 ms
    sample = AudioModality().load(sound("horse"))
    out = encoder.encode([sample])
    start = (sample.duration - encoder.clips.clip_seconds) / 2
    clip = sample.excerpt(start, encoder.clips.clip_seconds, 16000).numpy()
    inputs = ASTFeatureExtractor.from_pretrained(tiny_ast_dir)(clip, sampling_rate=16000, return_tensors="pt")
    full = ASTForAudioClassification.from_pretrained(tiny_ast_dir).eval()
    with torch.no_grad():
        hidden = full.audio_spectrogram_transformer(**inputs).last_hidden_state
    assert torch.allclose(out, (hidden[:, 0] + hidden[:, 1]) / 2, atol=1e-4)


def test_hf_encoders_refuse_the_wrong_kind_of_model(tiny_clap_dir: Path, tiny_ast_dir: Path) -> None:
    with pytest.raises(UniBindError, match="'clap' model, but this encoder reads audio-spectrogram-transformer"):
        ASTEncoder(ASTSettings(model=str(tiny_clap_dir)))
    with pytest.raises(UniBindError, match="reads clap models"):
        ClapEncoder(ClapSettings(model=str(tiny_ast_dir)))


def test_hf_encoders_handle_silent_and_tiny_files(tiny_clap_dir: Path, tiny_ast_dir: Path, tmp_path: Path) -> None:
    sf.write(str(tmp_path / "silence.wav"), np.zeros(4000, dtype="float32"), 8000)
    sf.write(str(tmp_path / "blip.wav"), np.array([0.5, -0.5, 0.25], dtype="float32"), 8000)
    loader = AudioModality()
    samples = [loader.load(tmp_path / "silence.wav"), loader.load(tmp_path / "blip.wav")]
    for encoder in (ClapEncoder(ClapSettings(model=str(tiny_clap_dir))),
                    ASTEncoder(ASTSettings(model=str(tiny_ast_dir)))):
        out = encoder.encode(samples)
        assert out.shape == (2, encoder.dim) and torch.isfinite(out).all(), type(encoder).__name__
