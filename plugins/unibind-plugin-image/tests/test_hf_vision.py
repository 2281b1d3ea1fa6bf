"""The Hugging Face image tower on tiny CLIP and SigLIP models built from configs and saved locally."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from unibind_plugin_image.bridge import build_imagenet_bridge
from unibind_plugin_image.encoders import HFVisionEncoder, HFVisionSettings

from unibind.errors import UniBindError


def _reference(path, image):
    """What transformers itself gives for the image: the joint-space image features."""
    from transformers import AutoImageProcessor, AutoModel

    model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    pixels = AutoImageProcessor.from_pretrained(path, local_files_only=True)(images=image, return_tensors="pt")
    with torch.inference_mode():
        out = model.get_image_features(pixel_values=pixels["pixel_values"])
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def test_tiny_clip_gives_projected_features(tiny_clip_dir, flower, china):
    encoder = HFVisionEncoder(HFVisionSettings(model=str(tiny_clip_dir)))
    assert encoder.dim == 24  # the projection, not the 32-wide tower
    assert encoder.preprocess(flower).shape == (3, 32, 32)
    out = encoder.encode([flower, china])
    assert out.shape == (2, 24)
    assert torch.allclose(out.norm(dim=-1), torch.ones(2), atol=1e-5)
    assert torch.allclose(out[0], F.normalize(_reference(tiny_clip_dir, flower), dim=-1)[0], atol=1e-5)
    assert not torch.allclose(out[0], out[1], atol=1e-3)

    raw = HFVisionEncoder(HFVisionSettings(model=str(tiny_clip_dir), normalize=False))
    assert torch.allclose(raw.encode([flower])[0], _reference(tiny_clip_dir, flower)[0], atol=1e-5)
    assert not any(p.requires_grad for p in encoder.parameters())


def test_tiny_siglip_gives_pooled_features(tiny_siglip_dir, flower):
    encoder = HFVisionEncoder(HFVisionSettings(model=str(tiny_siglip_dir)))
    assert encoder.dim == 32
    out = encoder.encode([flower, flower.convert("L")])
    assert out.shape == (2, 32) and torch.isfinite(out).all()
    assert torch.allclose(out[0], F.normalize(_reference(tiny_siglip_dir, flower), dim=-1)[0], atol=1e-5)


def test_hf_vision_has_no_imagenet_head_so_the_bridge_says_what_to_do(tiny_clip_dir, fake_text_encoder):
    encoder = HFVisionEncoder(HFVisionSettings(model=str(tiny_clip_dir)))
    assert encoder.imagenet_head() is None
    with pytest.raises(UniBindError, match="train a linear adapter instead"):
        build_imagenet_bridge(encoder=encoder, text_encoder=fake_text_encoder)


def test_a_model_without_an_image_side_is_refused(tmp_path):
    from transformers import BertConfig, BertModel

    BertModel(BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                         vocab_size=50)).save_pretrained(tmp_path / "bert")
    with pytest.raises(UniBindError, match="get_image_features"):
        HFVisionEncoder(HFVisionSettings(model=str(tmp_path / "bert")))


def test_hub_names_stay_offline():
    # HF_HUB_OFFLINE=1 (conftest): a hub name that is not cached fails at once instead of downloading
    with pytest.raises(OSError):
        HFVisionEncoder(HFVisionSettings(model="openai/clip-vit-base-patch32"))
