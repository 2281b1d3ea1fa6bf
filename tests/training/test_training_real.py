"""Real models and data: the text-bridge start, and a small image + audio run on Tux Paint stamps."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from unibind.errors import SettingsError
from unibind.plugins import get_registry
from unibind.space import Space


@pytest.mark.slow
def test_text_bridge_init_equals_the_linear_form_of_the_imagenet_bridge():
    registry = get_registry()
    space = Space(registry=registry, adapters={"image": "imagenet-bridge"},
                  settings={"imagenet-bridge": {"form": "linear"}})
    pipe = space.pipeline("image")
    text_encoder = space.pipeline("text").encoder
    linear = registry.get("adapter", "linear").build({"init": "text-bridge"}, encoder=pipe.encoder,
                                                     text_encoder=text_encoder, in_dim=pipe.encoder.dim,
                                                     out_dim=text_encoder.dim)
    mlp = registry.get("adapter", "mlp").build({"init": "text-bridge", "hidden": 8}, encoder=pipe.encoder,
                                               text_encoder=text_encoder, in_dim=pipe.encoder.dim,
                                               out_dim=text_encoder.dim).eval()
    features = torch.randn(5, pipe.encoder.dim).abs()
    with torch.no_grad():
        want = pipe.adapter(features)
        assert torch.allclose(F.normalize(linear(features), dim=-1), want, atol=1e-4)
        assert torch.allclose(F.normalize(mlp(features), dim=-1), want, atol=1e-4)
    with pytest.raises(SettingsError, match="needs an encoder with an ImageNet head"):
        registry.get("adapter", "linear").build({"init": "text-bridge"}, encoder=text_encoder,
                                                text_encoder=text_encoder, in_dim=384, out_dim=384)


@pytest.mark.slow
def test_image_and_audio_adapters_train_together_on_real_stamps(tmp_path):
    from unibind.training.bench import tuxpaint_manifest
    from unibind.training.pipeline import TrainConfig, train_space
    from unibind.training.trainer import TrainSettings

    manifest = tuxpaint_manifest(tmp_path / "m.jsonl", with_sound=True, min_per_class=4, limit=16)
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert {line["path"][-4:] for line in lines} == {".png", ".ogg"}
    config = TrainConfig(data=manifest, out=tmp_path / "space", cache_dir=tmp_path / "cache", val_fraction=0.25,
                         adapter_settings={"image": {"init": "text-bridge"}},
                         train=TrainSettings(epochs=3, batch_size=8, learn_temperature=True, temperature=0.07))
    result = train_space(config)
    assert set(result.samples) == {"image", "audio"}
    assert result.encoded["image"] == result.samples["image"]["train"] + result.samples["image"]["val"]
    assert result.parameters["frozen"] > 20 * result.parameters["trainable"]  # only adapters train
    history = result.fit.history
    assert history[-1].train_loss < history[0].train_loss
    space = Space.from_dir(result.space_dir)
    audio = [line["path"] for line in lines if line["path"].endswith(".ogg")][:3]
    embedded = space.embed_files(audio)
    assert embedded.vectors.shape == (3, 384) and space.pipeline("audio").adapter_name == "linear"
