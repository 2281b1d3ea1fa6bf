"""The plugin manager: entry points, isolation of failures, selection, strict mode."""

from __future__ import annotations

import sys
from importlib.metadata import EntryPoint

import pytest

from unibind.errors import PluginError
from unibind.plugins import PluginManager
from unibind.specs import EncoderSpec, ModalitySpec


def _encoder(name: str):
    def hook(register):
        register(EncoderSpec(name=name, modality="text", factory="unibind.encoders.text:build_minilm"))
    return hook


@pytest.fixture
def entry_points(make_plugin, monkeypatch):
    """Three entry points: one good, one that cannot import, one whose hook raises."""
    def boom(register):
        register(ModalitySpec(name="half", factory="x:y"))  # staged, then discarded
        raise RuntimeError("model zoo offline")

    monkeypatch.setitem(sys.modules, "fake_good", make_plugin("fake_good", unibind_encoders=_encoder("good")))
    monkeypatch.setitem(sys.modules, "fake_raises", make_plugin("fake_raises", unibind_modalities=boom,
                                                                   unibind_encoders=_encoder("also")))
    return [
        EntryPoint("good", "fake_good", "unibind"),
        EntryPoint("missing", "no_such_module_for_unibind", "unibind"),
        EntryPoint("raises", "fake_raises", "unibind"),
    ]


def test_broken_plugins_are_recorded_and_the_rest_load(entry_points):
    manager = PluginManager(strict=False, enabled=None).load(entry_points)
    infos = manager.plugins
    assert infos["good"].status == "ok"
    assert manager.registry.get("encoder", "good").plugin == "good"
    assert infos["missing"].status == "broken"
    assert "No module named 'no_such_module_for_unibind'" in infos["missing"].error
    assert infos["raises"].status == "broken" and "model zoo offline" in infos["raises"].error
    # a plugin whose hook raised registers nothing at all, not half its specs
    names = {s.name for s in manager.registry}
    assert "also" not in names and "half" not in names
    assert {p.name for p in manager.broken()} == {"missing", "raises"}
    # core built-ins still there
    assert manager.registry.default("encoder", "text").name == "minilm"


def test_strict_mode_turns_a_broken_plugin_into_an_error(entry_points):
    with pytest.raises(PluginError, match="no_such_module_for_unibind"):
        PluginManager(strict=True, enabled=None).load(entry_points)


def test_strict_mode_from_environment(entry_points, monkeypatch):
    monkeypatch.setenv("UNIBIND_STRICT", "1")
    with pytest.raises(PluginError):
        PluginManager().load(entry_points)


@pytest.mark.parametrize(("value", "expected"), [
    ("", set()),
    ("good", {"good"}),
    ("good, raises", {"good", "raises"}),
])
def test_environment_selects_plugins(entry_points, monkeypatch, value, expected):
    monkeypatch.setenv("UNIBIND_PLUGINS", value)
    manager = PluginManager().load(entry_points)
    assert {name for name, info in manager.plugins.items() if not info.builtin} == expected


def test_unset_environment_loads_every_plugin(entry_points, monkeypatch):
    monkeypatch.delenv("UNIBIND_PLUGINS", raising=False)
    manager = PluginManager().load(entry_points)
    assert {"good", "missing", "raises"} <= set(manager.plugins)


def test_two_plugins_with_one_name_both_stay_and_strict_mode_names_both(make_plugin, manager_with):
    first = make_plugin("a", unibind_encoders=_encoder("same"))
    second = make_plugin("b", unibind_encoders=_encoder("same"))
    manager = manager_with({"first": first, "second": second})
    assert manager.plugins["first"].status == manager.plugins["second"].status == "ok"
    assert manager.registry.get("encoder", "second:same").plugin == "second"
    with pytest.raises(PluginError, match="'first' and 'second'"):
        manager_with({"first": first, "second": second}, strict=True)


def test_registering_the_wrong_spec_type_breaks_only_that_plugin(make_plugin, manager_with):
    wrong = make_plugin("w", unibind_modalities=_encoder("wrong-kind"))
    manager = manager_with({"w": wrong})
    assert manager.plugins["w"].status == "broken"
    assert "expected a ModalitySpec" in manager.plugins["w"].error


def test_a_hook_that_is_not_in_the_contract_is_reported(make_plugin, manager_with):
    typo = make_plugin("t", unibind_encoder=_encoder("x"))  # singular: not a hook
    manager = manager_with({"t": typo})
    assert manager.plugins["t"].status == "broken"
    assert "unibind_encoder" in manager.plugins["t"].error


def test_plugin_info_as_dict_lists_kinds_and_modalities(make_plugin, manager_with):
    manager = manager_with({"g": make_plugin("g", unibind_encoders=_encoder("g-enc"))})
    data = manager.plugins["g"].as_dict()
    assert data["registers"] == {"encoder": ["g-enc"]}
    assert data["modalities"] == ["text"]
    assert data["distribution"] == "unibind-plugin-g" and data["version"] == "9.9"
