"""Shared fixtures: real photos from scikit-learn, the real default encoder, tiny HF models, a fake text encoder."""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import pytest

# Set before anything imports huggingface_hub, which reads it once at import time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test may reach a model hub, and no test touches the user's cache."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("UNIBIND_CACHE_DIR", str(tmp_path / "unibind-cache"))


# -- real pictures ------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def sklearn_images_dir() -> Path:
    """Where scikit-learn keeps its two sample photos (china.jpg, flower.jpg), 640x427 JPEGs."""
    import sklearn.datasets

    return Path(sklearn.datasets.__file__).parent / "images"


@pytest.fixture(scope="session")
def china():
    from PIL import Image
    from sklearn.datasets import load_sample_image

    return Image.fromarray(load_sample_image("china.jpg"))


@pytest.fixture(scope="session")
def flower():
    from PIL import Image
    from sklearn.datasets import load_sample_image

    return Image.fromarray(load_sample_image("flower.jpg"))


# -- encoders -----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def lite0():
    """The real default encoder, built once: its weights ship in a package."""
    from unibind_plugin_image.encoders import EfficientNetLite0Encoder

    return EfficientNetLite0Encoder()


class FakeTextEncoder:
    """A deterministic bag-of-words text encoder that counts what it is asked to encode."""

    def __init__(self, dim: int = 16, source: str = "fake-text"):
        self.dim = dim
        self.source = source
        self.calls = 0
        self.texts_encoded = 0

    def vector(self, text: str):
        import torch

        out = torch.zeros(self.dim)
        for word in text.lower().split():
            g = torch.Generator().manual_seed(zlib.crc32(word.strip(".,").encode()))
            out += torch.randn(self.dim, generator=g)
        return out

    def encode(self, texts):
        import torch
        import torch.nn.functional as F

        self.calls += 1
        self.texts_encoded += len(texts)
        return F.normalize(torch.stack([self.vector(t) for t in texts]), dim=-1)


@pytest.fixture
def fake_text_encoder() -> FakeTextEncoder:
    return FakeTextEncoder()


@pytest.fixture(scope="session")
def fake_text_encoder_class() -> type[FakeTextEncoder]:
    """The class itself, for tests that need several (conftest is not importable)."""
    return FakeTextEncoder


# -- tiny Hugging Face image-text models, built from configs and saved locally -------------------

_TINY_TOWER = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}


def _tiny_text(vocab: int) -> dict:
    return {**_TINY_TOWER, "vocab_size": vocab, "max_position_embeddings": 16, "bos_token_id": 0,
            "eos_token_id": 1, "pad_token_id": 1}


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised CLIP (image 32px, patch 8, projection 24) with its image processor."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-clip")
    config = CLIPConfig(vision_config={**_TINY_TOWER, "image_size": 32, "patch_size": 8},
                        text_config=_tiny_text(100), projection_dim=24)
    CLIPModel(config).save_pretrained(path)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_siglip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised SigLIP (image 32px, patch 8, hidden 32) with its image processor."""
    import torch
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-siglip")
    config = SiglipConfig(vision_config={**_TINY_TOWER, "image_size": 32, "patch_size": 8},
                          text_config=_tiny_text(100))
    SiglipModel(config).save_pretrained(path)
    SiglipImageProcessor(size={"height": 32, "width": 32}).save_pretrained(path)
    return path


#: The words the tiny captioner's tokenizer knows (a word-level vocabulary, built locally).
CAPTION_WORDS = ("a photo of the dog cat flower building red small big on in with garden").split()


@pytest.fixture(scope="session")
def tiny_captioner_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised VisionEncoderDecoder (ViT 32px + GPT-2) with a word-level tokenizer."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (GPT2Config, PreTrainedTokenizerFast, VisionEncoderDecoderConfig,
                              VisionEncoderDecoderModel, ViTConfig, ViTImageProcessor)

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-captioner")
    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, **{w: i + 4 for i, w in enumerate(CAPTION_WORDS)}}
    words = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=words, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                            unk_token="<unk>").save_pretrained(path)
    encoder = ViTConfig(**_TINY_TOWER, image_size=32, patch_size=8)
    decoder = GPT2Config(vocab_size=len(vocab), n_embd=32, n_layer=1, n_head=2, n_positions=64, bos_token_id=1,
                         eos_token_id=2, pad_token_id=0, add_cross_attention=True, is_decoder=True)
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id, config.pad_token_id, config.eos_token_id = 1, 0, 2
    model = VisionEncoderDecoderModel(config=config)
    model.generation_config.update(decoder_start_token_id=1, pad_token_id=0, eos_token_id=2)
    model.save_pretrained(path)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(path)
    return path
