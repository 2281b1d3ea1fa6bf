"""Text encoders: the shipped default, and any Hugging Face model by local path."""

from __future__ import annotations

import pytest
import torch

from unibind.encoders.text import (
    HFTextEncoder,
    HFTextSettings,
    MiniLMSettings,
    build_hf_text_encoder,
    build_minilm,
    minilm_path,
)
from unibind.testing import check_encoder_output


@pytest.fixture(scope="module")
def minilm():
    return build_minilm(MiniLMSettings())


def test_default_text_encoder_is_the_shipped_minilm(minilm):
    out = minilm.encode(["a dog", "a puppy", "a truck", "a lorry"])
    check_encoder_output(minilm, ["x", "y"], dim=384)
    assert torch.allclose(out.norm(dim=-1), torch.ones(4), atol=1e-5)
    sims = out @ out.T
    assert sims[0, 1] > sims[0, 2] and sims[2, 3] > sims[2, 1]
    print(f"\ncos(dog, puppy)={sims[0, 1]:.3f} cos(dog, truck)={sims[0, 2]:.3f} "
          f"cos(truck, lorry)={sims[2, 3]:.3f}")


def test_default_encoder_matches_sentence_transformers_on_the_shipped_checkpoint(minilm):
    texts = ["a photo of a flower.", "the sound of rain", "an event-camera recording of a car"]
    # 'auto' on a sentence-transformers folder uses sentence-transformers itself: the reference
    reference = build_hf_text_encoder(HFTextSettings(model=str(minilm_path())))
    assert type(reference).__name__ == "SentenceTransformerEncoder"
    assert type(minilm).__name__ == "HFTextEncoder"
    assert torch.allclose(reference.encode(texts), minilm.encode(texts), atol=1e-5)
    # the per-sample path (preprocess / collate / forward) gives the same vectors as encode
    batch = minilm.collate([minilm.preprocess(t) for t in texts])
    assert torch.allclose(minilm(batch), minilm.encode(texts))


def test_text_files_embed_through_the_space(tmp_path):
    from unibind import Space

    note = tmp_path / "note.txt"
    note.write_text("the sound of rain on a tin roof\n")
    (tmp_path / "empty.txt").write_text("   ")
    space = Space()
    result = space.embed_files([note, tmp_path / "empty.txt"])
    assert result.modality == "text" and result.sources == [str(note)]
    assert torch.allclose(result.vectors, space.embed_text(["the sound of rain on a tin roof"]), atol=1e-5)
    assert "only whitespace" in result.failures[0].reason


def _tokenizer_files(target):
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(str(minilm_path())).save_pretrained(target)


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    from unibind.testing.models import save_tiny_bert

    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), layers=2)


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    from transformers import CLIPConfig, CLIPModel

    path = tmp_path_factory.mktemp("tiny-clip")
    torch.manual_seed(0)
    config = CLIPConfig(
        text_config={"vocab_size": 30522, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                     "intermediate_size": 64, "max_position_embeddings": 64,
                     "bos_token_id": 101, "eos_token_id": 102, "pad_token_id": 0},
        vision_config={"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                       "intermediate_size": 64, "image_size": 32, "patch_size": 8},
        projection_dim=24,
    )
    CLIPModel(config).save_pretrained(path)
    _tokenizer_files(path)
    return path


def test_hf_backend_mean_pools_a_local_text_model(tiny_bert):
    encoder = build_hf_text_encoder(HFTextSettings(model=str(tiny_bert)))
    assert encoder.pooling == "mean" and encoder.dim == 32
    check_encoder_output(encoder, ["a cat", "a much longer sentence about a dog in a park"])
    cls = build_hf_text_encoder(HFTextSettings(model=str(tiny_bert), pooling="cls", normalize=False))
    a, b = cls.encode(["a cat"]), encoder.encode(["a cat"])
    assert not torch.allclose(torch.nn.functional.normalize(a, dim=-1), b)


def test_hf_backend_uses_the_clip_text_projection(tiny_clip):
    from transformers import AutoTokenizer, CLIPModel

    encoder = build_hf_text_encoder(HFTextSettings(model=str(tiny_clip)))
    assert encoder.pooling == "projection" and encoder.dim == 24
    out = encoder.encode(["a cat", "a dog"])
    model = CLIPModel.from_pretrained(tiny_clip).eval()
    batch = AutoTokenizer.from_pretrained(tiny_clip)(["a cat", "a dog"], padding=True, return_tensors="pt")
    with torch.no_grad():
        features = model.get_text_features(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    features = getattr(features, "pooler_output", features)
    assert torch.allclose(out, torch.nn.functional.normalize(features, dim=-1), atol=1e-5)


def test_hf_backend_fails_clearly_for_a_missing_local_model(tmp_path):
    from unibind.errors import InputError

    with pytest.raises(InputError, match="nope"):
        build_hf_text_encoder(HFTextSettings(model=str(tmp_path / "nope"), local_files_only=True))
