"""Shared fixtures: real Tux Paint sounds, the default encoder built once, tiny local CLAP and AST models."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

# Set before anything imports huggingface_hub, which reads it once at import time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

MATH = Path("/usr/share/tuxpaint/stamps/symbols/math")


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test may reach a model hub, and no test touches the user's cache."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("UNIBIND_CACHE_DIR", str(tmp_path / "unibind-cache"))


# -- real sounds ----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def stamps_with_sound():
    """The Tux Paint stamps that have a sound effect (Debian tuxpaint-stamps-default, GPL-2 data)."""
    from unibind.datasets import tuxpaint_stamps

    return tuxpaint_stamps(with_sound=True)


@pytest.fixture(scope="session")
def sound(stamps_with_sound):
    """The sound effect of one stamp, by name."""
    by_name = {s.name: s.sound for s in stamps_with_sound}
    return by_name.__getitem__


@pytest.fixture(scope="session")
def spoken_digits() -> list[tuple[Path, str, str]]:
    """Tux Paint's spoken digits: (file, digit, language), English files having no language suffix."""
    found = []
    for path in sorted(MATH.glob("*.ogg")):
        match = re.fullmatch(r"(\d)(?:_(.+))?", path.stem)
        if match and not (match.group(2) or "").startswith("desc"):
            found.append((path, match.group(1), match.group(2) or "en"))
    assert len(found) >= 200, f"expected ~210 spoken digits in {MATH}, found {len(found)}"
    return found


def write_tone(path: Path, *, seconds: float = 1.0, rate: int = 16000, freq: float = 440.0,
               amplitude: float = 0.5, subtype: str = "PCM_16") -> Path:
    """A plain sine tone written with soundfile (simulated audio, used where content does not matter)."""
    import numpy as np
    import soundfile as sf

    t = np.arange(int(seconds * rate)) / rate
    sf.write(str(path), (amplitude * np.sin(2 * np.pi * freq * t)).astype("float32"), rate, subtype=subtype)
    return path


@pytest.fixture
def tone():
    return write_tone


# -- encoders -------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def spectrogram_encoder():
    """The audio default, spectrogram-image, on the image default (EfficientNet-Lite0), built once."""
    from unibind_plugin_audio.settings import SpectrogramImageSettings
    from unibind_plugin_audio.spectrogram_image import build_spectrogram_image

    return build_spectrogram_image(SpectrogramImageSettings())


class FakeTextEncoder:
    """A 16-d stand-in text encoder (vectors seeded by the text), so the bridge loads no language model."""

    dim = 16
    source = "test-fake-text-encoder"

    def encode(self, texts):
        import zlib

        import torch

        return torch.stack([torch.randn(self.dim, generator=torch.Generator().manual_seed(zlib.crc32(t.encode())))
                            for t in texts])


@pytest.fixture
def fake_text_encoder() -> FakeTextEncoder:
    return FakeTextEncoder()


# -- tiny Hugging Face audio models, built from configs and saved locally --------------------------

_WORDS = ["<s>", "<pad>", "</s>", "<unk>"] + ("the sound of a dog cat cow bird bell drum piano speech "
                                              "tone noise silence rain").split()


def _tiny_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(_WORDS)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>",
                                                       special_tokens=[("<s>", 0), ("</s>", 2)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                   pad_token="<pad>", unk_token="<unk>")


@pytest.fixture(scope="session")
def tiny_clap_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised CLAP (HTSAT 2 stages, 16 mel bands, 1 s input) with extractor and tokenizer."""
    import torch
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-clap")
    audio = dict(spec_size=64, num_mel_bins=16, window_size=4, patch_size=4, patch_stride=(4, 4),
                 hidden_size=64, depths=[1, 1], num_attention_heads=[2, 4], patch_embeds_hidden_size=32,
                 projection_dim=16, num_hidden_layers=2)
    text = dict(vocab_size=len(_WORDS), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=2, max_position_embeddings=40, projection_dim=16, pad_token_id=1,
                bos_token_id=0, eos_token_id=2)
    ClapModel(ClapConfig(audio_config=audio, text_config=text, projection_dim=16)).save_pretrained(path)
    ClapFeatureExtractor(feature_size=16, sampling_rate=48000, max_length_s=1).save_pretrained(path)
    _tiny_tokenizer().save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_ast_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised ASTForAudioClassification (2 layers, 1.0 s input) with its extractor."""
    import torch
    from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-ast")
    config = ASTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                       patch_size=16, frequency_stride=10, time_stride=10, max_length=100, num_mel_bins=128,
                       num_labels=5)
    ASTForAudioClassification(config).save_pretrained(path)
    ASTFeatureExtractor(max_length=100).save_pretrained(path)
    return path
