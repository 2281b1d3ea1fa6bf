"""Registry queries and the lazy, validated specs."""

from __future__ import annotations

import sys

import pytest

from unibind.errors import NotRegisteredError, SettingsError
from unibind.registry import Registry
from unibind.specs import AdapterSpec, DescriptionSourceSpec, EncoderSpec, ModalitySpec, import_object


def _enc(name, modality="image", **kw):
    return EncoderSpec(name=name, modality=modality, factory="unibind.encoders.text:build_minilm",
                       plugin="p", **kw)


def test_queries_by_kind_modality_name_and_default():
    registry = Registry()
    for spec in (_enc("a"), _enc("b", default=True), _enc("c", default=True, priority=3),
                 _enc("t", modality="text", default=True),
                 AdapterSpec(name="any", factory="m:f"), AdapterSpec(name="img", factory="m:f",
                                                                     modalities=("image",))):
        registry.add(spec)
    assert len(registry) == 6
    assert [s.name for s in registry.by_modality("encoder", "image")] == ["a", "b", "c"]
    assert registry.default("encoder", "image").name == "c"
    assert registry.default("encoder", "text").name == "t"
    assert registry.get("encoder", "a").name == "a"
    assert [s.name for s in registry.by_modality("adapter", "audio")] == ["any"]
    with pytest.raises(NotRegisteredError, match="registered: a, b, c, t"):
        registry.get("encoder", "zzz")
    with pytest.raises(NotRegisteredError, match="no default adapter for modality 'audio'"):
        registry.default("adapter", "audio")
    with pytest.raises(NotRegisteredError, match="unknown kind"):
        registry.by_kind("encoders")


def test_default_ties_break_by_name_not_by_registration_order():
    first, second = Registry(), Registry()
    for spec in (_enc("zeta", default=True), _enc("alpha", default=True)):
        first.add(spec)
    for spec in (_enc("alpha", default=True), _enc("zeta", default=True)):
        second.add(spec)
    assert first.default("encoder", "image").name == second.default("encoder", "image").name == "alpha"


def test_suffix_lookup():
    registry = Registry()
    registry.add(ModalitySpec(name="image", factory="m:f", suffixes=(".PNG", "jpg")))
    assert registry.modality_for_suffix(".png").name == "image"
    assert registry.modality_for_suffix(".jpg").name == "image"
    with pytest.raises(NotRegisteredError, match="'.wav'"):
        registry.modality_for_suffix(".wav")


def test_specs_validate_names_and_references():
    with pytest.raises(ValueError):
        _enc("Has Spaces")
    with pytest.raises(ValueError, match="module:attribute"):
        EncoderSpec(name="x", modality="image", factory="no_colon_here")
    with pytest.raises(TypeError, match="unknown_field"):
        EncoderSpec(name="x", modality="image", factory="m:f", unknown_field=1)
    with pytest.raises(ValueError, match=r"EncoderSpec.dim: '3' is not int \| None"):
        EncoderSpec(name="x", modality="image", factory="m:f", dim="3")
    with pytest.raises(ValueError, match="one of 'class_descriptions', 'sample_captions'"):
        DescriptionSourceSpec(name="x", factory="m:f", produces=("captions",))
    # lists (as JSON gives them) become tuples; suffixes are lower-cased and dotted
    assert ModalitySpec(name="x", factory="m:f", suffixes=["PNG", ".Jpg"]).suffixes == (".png", ".jpg")


def test_spec_settings_are_validated_and_errors_name_the_component():
    spec = EncoderSpec(name="hf", modality="text", factory="unibind.encoders.text:build_hf_text_encoder",
                       settings="unibind.encoders.text:HFTextSettings")
    made = spec.make_settings({"model": "some/model", "max_length": 32})
    assert made.max_length == 32 and made.pooling == "auto"
    with pytest.raises(SettingsError, match="encoder 'hf'"):
        spec.make_settings({"model": "x", "max_length": -1})
    bare = AdapterSpec(name="id", factory="unibind.adapters.base:IdentityAdapter")
    with pytest.raises(SettingsError, match="takes no settings"):
        bare.make_settings({"x": 1})


def test_registering_a_spec_imports_nothing():
    before = set(sys.modules)
    EncoderSpec(name="lazy", modality="image", factory="module_that_does_not_exist_yet:Thing")
    assert "module_that_does_not_exist_yet" not in sys.modules and set(sys.modules) - before <= {"typing"}
    with pytest.raises(ModuleNotFoundError):
        import_object("module_that_does_not_exist_yet:Thing")
    assert import_object("unibind.registry:Registry") is Registry


def test_encoder_for_another_components_use_names_who_needed_it():
    from unibind.errors import SettingsError

    registry = Registry()
    for spec in (_enc("img", default=True), _enc("txt", modality="text", default=True)):
        registry.add(spec)
    assert registry.encoder_for("image", needed_by="x").name == "img"
    assert registry.encoder_for("image", "img", needed_by="x").name == "img"
    with pytest.raises(NotRegisteredError, match="video-frames needs an image encoder: no encoder named 'zz'"):
        registry.encoder_for("image", "zz", needed_by="video-frames")
    with pytest.raises(NotRegisteredError, match="no default encoder for modality 'audio'"):
        registry.encoder_for("audio", needed_by="x")
    with pytest.raises(SettingsError, match="'txt' encodes 'text'"):
        registry.encoder_for("image", "txt", needed_by="x")
