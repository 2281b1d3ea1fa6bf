"""The plugin manager at its edges: settings read from the environment and the config file,
isolation and roll-back of failing plugins, preferences, sub-commands, what list-plugins is given.

Each test pins down a rule a silent change would break (found by mutation testing:
scripts/mutation.py plugins).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from types import SimpleNamespace

import click
import pytest
from click.testing import CliRunner

from unibind import plugins
from unibind.errors import DuplicateRegistrationError, PluginConfigError, PluginError
from unibind.plugins import (
    PluginManager,
    get_plugin_manager,
    get_registry,
    read_preferences,
    reset_plugin_manager,
)
from unibind.specs import AdapterSpec, CalibratorSpec, EncoderSpec, ModalitySpec, ValidatorSpec


@dataclass
class FakeEntryPoint:
    """An installed plugin as importlib.metadata shows it (``dist`` None: no distribution known)."""

    name: str
    value: str
    distribution: str | None = None

    @property
    def dist(self):
        return SimpleNamespace(name=self.distribution, version="2.5") if self.distribution else None

    def load(self):
        __import__(self.value)
        return sys.modules[self.value]


def registers(*specs):
    """A hook registering ``specs``."""
    def hook(register):
        for spec in specs:
            register(spec)
    return hook


def enc(name, modality="image", **kw):
    return EncoderSpec(name=name, modality=modality, factory="m:f", **kw)


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No plugin settings from the machine running the tests; an empty config home."""
    for name in ("UNIBIND_PREFER", "UNIBIND_PLUGINS", "UNIBIND_STRICT", "UNIBIND_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config-home"))
    return monkeypatch


# -- settings from the environment -------------------------------------------------------------
@pytest.mark.parametrize(("value", "strict"), [
    ("1", True), (" TRUE ", True), ("yes", True), ("On", True), ("0", False), ("", False), ("no", False),
    ("2", False),
])
def test_strict_mode_from_the_variable(clean_env, value, strict):
    clean_env.setenv("UNIBIND_STRICT", value)
    assert PluginManager(enabled=None, preferences=[]).strict is strict


def test_the_allow_list_ignores_blanks_and_spaces(clean_env):
    clean_env.setenv("UNIBIND_PLUGINS", " a , ,b,")
    assert PluginManager(preferences=[]).enabled == {"a", "b"}
    clean_env.delenv("UNIBIND_PLUGINS")
    assert PluginManager(preferences=[]).enabled is None


def test_the_config_file_is_found_by_variable_then_xdg_then_home(clean_env, tmp_path):
    clean_env.setenv("HOME", str(tmp_path / "home"))
    clean_env.delenv("XDG_CONFIG_HOME")
    assert plugins.config_file() == tmp_path / "home" / ".config" / "unibind" / "config.toml"
    clean_env.setenv("XDG_CONFIG_HOME", "")  # set but empty: the spec says ignore it
    assert plugins.config_file() == tmp_path / "home" / ".config" / "unibind" / "config.toml"
    clean_env.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert plugins.config_file() == tmp_path / "xdg" / "unibind" / "config.toml"
    clean_env.setenv("UNIBIND_CONFIG", str(tmp_path / "mine.toml"))
    assert plugins.config_file() == tmp_path / "mine.toml"
    # the registry's conflict errors point at the file the user would edit
    assert PluginManager(enabled=None, preferences=[]).registry.settle_hint == f"or under [prefer] in {tmp_path / 'mine.toml'}"


def test_the_default_config_file_is_read_without_the_variable(clean_env, tmp_path):
    config = tmp_path / "config-home" / "unibind" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[prefer]\n"encoder:lite" = "b"\nother = "c"\n')
    assert read_preferences() == [("encoder", "lite", "b", str(config)), (None, "other", "c", str(config))]
    assert PluginManager(enabled=None).registry.settle_hint.endswith(str(config))


def test_preferences_come_from_the_file_then_the_variable_skipping_blanks(clean_env, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[prefer]\n"modality:imu" = "x"\n')
    clean_env.setenv("UNIBIND_CONFIG", str(config))
    clean_env.setenv("UNIBIND_PREFER", " encoder:a=p , ,command:hello = q,b=r,")
    assert read_preferences() == [("modality", "imu", "x", str(config)), ("encoder", "a", "p", "UNIBIND_PREFER"),
                                  ("command", "hello", "q", "UNIBIND_PREFER"), (None, "b", "r", "UNIBIND_PREFER")]
    clean_env.setenv("UNIBIND_CONFIG", os.devnull)  # the way to say "no config file"
    assert read_preferences()[0] == ("encoder", "a", "p", "UNIBIND_PREFER")
    assert [entry[:3] for entry in PluginManager(enabled=set())._preference_entries] == [
        ("encoder", "a", "p"), ("command", "hello", "q"), (None, "b", "r")]


def test_a_missing_default_config_file_is_no_error(clean_env):
    assert read_preferences() == []


def test_a_config_file_without_a_prefer_table_prefers_nothing(clean_env, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[cache]\ndir = "/tmp/x"\n')
    clean_env.setenv("UNIBIND_CONFIG", str(config))
    assert read_preferences() == []


def test_a_preference_splits_at_the_first_equals_sign(clean_env):
    """'encoder:lite==b' names plugin '=b' (an error once checked), not a name 'lite=' nothing claims."""
    clean_env.setenv("UNIBIND_PREFER", "encoder:lite==b")
    assert read_preferences() == [("encoder", "lite", "=b", "UNIBIND_PREFER")]


@pytest.mark.parametrize(("entry", "problem"), [
    ("=imu", "UNIBIND_PREFER: expected 'kind:name=plugin', got '=imu'"),
    ("encoder:lite=", "UNIBIND_PREFER: expected 'kind:name=plugin', got 'encoder:lite='"),
    (" encoder:lite ", "UNIBIND_PREFER: expected 'kind:name=plugin', got 'encoder:lite'"),
    ("sensor:lite=a", ("UNIBIND_PREFER: 'sensor:lite=a': unknown kind 'sensor' (kinds: modality, encoder, "
                       "adapter, description_source, calibrator, validator, command)")),
])
def test_a_malformed_preference_is_one_error_saying_where_and_what(clean_env, entry, problem):
    clean_env.setenv("UNIBIND_PREFER", entry)
    with pytest.raises(PluginConfigError) as caught:
        read_preferences()
    assert str(caught.value) == problem


@pytest.mark.parametrize(("text", "problem"), [
    ('prefer = "x"\n', "[prefer] must map 'kind:name' to a plugin name"),
    ("[prefer]\nx = [1]\n", "[prefer] must map 'kind:name' to a plugin name"),
    (b"\xff\xfe[prefer]", "cannot read the config file: UnicodeDecodeError"),
])
def test_a_bad_config_file_is_an_error_naming_it(clean_env, tmp_path, text, problem):
    config = tmp_path / "c.toml"
    config.write_bytes(text if isinstance(text, bytes) else text.encode())
    clean_env.setenv("UNIBIND_CONFIG", str(config))
    with pytest.raises(PluginConfigError) as caught:
        read_preferences()
    assert str(caught.value).startswith(f"{config}: {problem}")
    clean_env.setenv("UNIBIND_CONFIG", str(tmp_path))  # a directory is no file either
    with pytest.raises(PluginConfigError, match="UNIBIND_CONFIG names .* which is not a file"):
        read_preferences()


def test_a_bad_entry_in_the_config_file_names_the_file(clean_env, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[prefer]\n"encoders:lite" = "a"\n')
    clean_env.setenv("UNIBIND_CONFIG", str(config))
    with pytest.raises(PluginConfigError) as caught:
        read_preferences()
    assert str(caught.value).startswith(f"{config}: 'encoders:lite=a': unknown kind 'encoders'")


def test_an_exception_without_a_message_is_named_by_its_type():
    assert plugins._one_line(RuntimeError()) == "RuntimeError"
    assert plugins._one_line(ValueError("two\n  lines")) == "ValueError: two lines"


# -- loading ---------------------------------------------------------------------------------------
def test_entry_points_give_name_distribution_and_version(make_plugin, monkeypatch, clean_env):
    monkeypatch.setitem(sys.modules, "fake_dist", make_plugin("fake_dist", unibind_encoders=registers(enc("d"))))
    monkeypatch.setitem(sys.modules, "fake_nodist", make_plugin("fake_nodist", unibind_encoders=registers(enc("n"))))
    manager = PluginManager(enabled=None, preferences=[]).load(
        [FakeEntryPoint("with-dist", "fake_dist", "unibind-plugin-d"), FakeEntryPoint("bare", "fake_nodist")])
    info = manager.plugins["with-dist"]
    assert (info.distribution, info.version, info.builtin, info.status) == ("unibind-plugin-d", "2.5", False, "ok")
    assert (manager.plugins["bare"].distribution, manager.plugins["bare"].version) == (None, None)
    core = manager.plugins["unibind"]
    from unibind.version import __version__
    assert (core.builtin, core.distribution, core.version) == (True, "unibind", __version__)
    assert list(manager.plugins) == ["unibind", "bare", "with-dist"]  # by entry-point name, not install order
    assert manager.registry.get("encoder", "with-dist:d") and manager.registry.get("encoder", "bare:n")


def test_the_allow_list_takes_distribution_names_and_says_which_are_missing(make_plugin, monkeypatch, clean_env):
    monkeypatch.setitem(sys.modules, "fake_dist", make_plugin("fake_dist", unibind_encoders=registers(enc("d"))))
    eps = [FakeEntryPoint("one", "fake_dist", "unibind-plugin-one"), FakeEntryPoint("two", "fake_dist")]
    chosen = PluginManager(enabled={"unibind-plugin-one"}, preferences=[]).load(eps)
    assert set(chosen.plugins) == {"unibind", "one"}
    with pytest.raises(PluginConfigError) as caught:
        PluginManager(enabled={"zz", "aa", "one"}, preferences=[]).load(eps)
    assert str(caught.value) == ("UNIBIND_PLUGINS names 'aa', 'zz', which are not installed "
                                 "(installed plugins: one, two)")
    with pytest.raises(PluginConfigError) as caught:
        PluginManager(enabled={"one"}, preferences=[]).load([])
    assert str(caught.value) == "UNIBIND_PLUGINS names 'one', which is not installed (installed plugins: none)"


class MinimalEntryPoint:
    """An entry point with only ``name``, ``value`` and ``load()``: no ``dist`` attribute at all."""

    def __init__(self, name, value):
        self.name, self.value = name, value

    def load(self):
        __import__(self.value)
        return sys.modules[self.value]


def test_an_entry_point_without_distribution_metadata_loads(make_plugin, monkeypatch, clean_env):
    monkeypatch.setitem(sys.modules, "fake_min", make_plugin("fake_min", unibind_encoders=registers(enc("m"))))
    eps = [MinimalEntryPoint("mini", "fake_min"), MinimalEntryPoint("mini", "fake_min")]
    for enabled in (None, {"mini"}):
        manager = PluginManager(enabled=enabled, preferences=[]).load(eps)
        assert (manager.plugins["mini"].status, manager.plugins["mini"].distribution) == ("ok", None)
        assert manager.plugins["mini@None"].status == "broken"
        assert manager.registry.get("encoder", "mini:m").plugin == "mini"


def test_an_entry_point_without_a_distribution_sorts_before_one_with(make_plugin, monkeypatch, clean_env):
    """Two entry points named alike: the order (and so which keeps the name) never depends on install order."""
    monkeypatch.setitem(sys.modules, "fake_a", make_plugin("fake_a", unibind_encoders=registers(enc("from-a"))))
    monkeypatch.setitem(sys.modules, "fake_b", make_plugin("fake_b", unibind_encoders=registers(enc("from-b"))))
    eps = [FakeEntryPoint("image", "fake_a", "Acme-image"), FakeEntryPoint("image", "fake_b")]
    for order in (eps, eps[::-1]):
        manager = PluginManager(enabled=None, preferences=[]).load(order)
        assert manager.registry.get("encoder", "image:from-b")
        duplicate = manager.plugins["image@Acme-image"]
        assert duplicate.error == ("entry point name 'image' is also used by None; rename one of them "
                                   "(plugin names must be unique)")
        assert duplicate.traceback.rstrip().endswith("PluginError: image")


def test_ctrl_c_while_importing_a_plugin_is_not_swallowed(monkeypatch, clean_env):
    class Interrupted(FakeEntryPoint):
        def load(self):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        PluginManager(enabled=None, preferences=[]).load([Interrupted("i", "fake_i", "d")])


def test_a_plugin_given_by_module_name_is_imported(make_plugin, monkeypatch, clean_env):
    monkeypatch.setitem(sys.modules, "fake_by_name", make_plugin("fake_by_name", unibind_encoders=registers(enc("m"))))
    manager = PluginManager(enabled=set(), preferences=[])
    info = manager.add_plugin("fake_by_name", "named", distribution="d", version="1")
    manager.collect()
    assert info is manager.plugins["named"] and [s.qualified_name for s in info.specs] == ["named:m"]


def test_a_hook_with_the_wrong_arguments_fails_at_registration(make_plugin, manager_with):
    def wrong(regster):  # typo in the argument name: pluggy refuses it
        pass

    manager = manager_with({"w": make_plugin("w", unibind_encoders=wrong),
                            "fine": make_plugin("f", unibind_encoders=registers(enc("fine")))})
    assert manager.plugins["w"].status == "broken"
    assert manager.plugins["w"].error.startswith("registration failed: PluginValidationError")
    assert "Traceback" in manager.plugins["w"].traceback
    assert manager.plugins["fine"].status == "ok"


def test_a_plugin_with_an_unknown_hook_registers_none_of_its_hooks(make_plugin, manager_with):
    typo = make_plugin("t", unibind_encoders=registers(enc("kept-out")), unibind_encoder=registers(enc("x")),
                       unibind_adaptors=registers(enc("y")))
    manager = manager_with({"t": typo})
    assert manager.plugins["t"].error == "implements hooks that are not in the contract: unibind_adaptors, unibind_encoder"
    assert manager.registry.by_plugin("t") == []
    assert manager.plugins["t"].traceback.rstrip().endswith("PluginError: unibind_adaptors, unibind_encoder")
    assert all(impl.plugin_name != "t" for impl in manager.pm.hook.unibind_encoders.get_hookimpls())


# -- collecting ---------------------------------------------------------------------------------------
def test_collecting_again_keeps_every_plugin_and_adds_new_ones(make_plugin, clean_env):
    manager = PluginManager(enabled=set(), preferences=[])
    info = manager.add_plugin(make_plugin("a", unibind_encoders=registers(enc("x"), enc("y"))), "a")
    assert (info.distribution, info.version, info.builtin) == (None, None, False)  # only the core's is 'unibind'
    manager.collect()
    manager.add_plugin(make_plugin("b", unibind_encoders=registers(enc("x"))), "b")
    manager.collect()
    assert manager.plugins["a"].status == manager.plugins["b"].status == "ok"
    assert sorted(s.qualified_name for s in manager.registry) == ["a:x", "a:y", "b:x"]
    assert [s.qualified_name for s in manager.plugins["a"].specs] == ["a:x", "a:y"]


def test_a_broken_plugin_is_not_retried_by_a_later_collect(make_plugin, clean_env):
    """A hook that fails once and would work the second time: the plugin stays broken and registers nothing."""
    calls = []

    def flaky(register):
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("model zoo offline")
        register(enc("late"))

    manager = PluginManager(enabled=set(), preferences=[])
    manager.add_plugin(make_plugin("f", unibind_encoders=flaky), "f")
    manager.collect()
    manager.collect()
    assert calls == [1] and manager.plugins["f"].status == "broken"
    assert manager.registry.by_plugin("f") == []


def test_plugins_after_a_broken_one_still_register(make_plugin, manager_with):
    def boom(register):
        raise RuntimeError("no weights")

    manager = manager_with({"a": make_plugin("a", unibind_encoders=boom),
                            "b": make_plugin("b", unibind_encoders=registers(enc("from-b")))})
    assert manager.plugins["a"].status == "broken"
    assert manager.registry.get("encoder", "from-b").plugin == "b"


def test_a_roll_back_keeps_what_other_plugins_registered_under_the_same_names(make_plugin, manager_with):
    """The second spec of a plugin collides after its first was added (the issue's case)."""
    half = make_plugin("h", unibind_modalities=registers(ModalitySpec(name="shared", factory="m:f")),
                       unibind_encoders=registers(enc("mine"), enc("shared"), enc("shared")),
                       unibind_adapters=registers(AdapterSpec(name="late", factory="m:f")))
    other = make_plugin("o", unibind_modalities=registers(ModalitySpec(name="shared", factory="m:f")),
                        unibind_encoders=registers(enc("shared")))
    manager = manager_with({"h": half, "o": other})
    info = manager.plugins["h"]
    assert (info.status, info.specs) == ("broken", [])
    assert info.error == "unibind_encoders: encoder 'shared' is registered twice by 'h'"
    assert isinstance(manager.registry.by_plugin("o")[0], ModalitySpec)
    assert sorted(s.qualified_name for s in manager.registry.by_plugin("o")) == ["o:shared", "o:shared"]
    assert manager.registry.by_plugin("h") == []
    assert manager.registry.get("encoder", "shared").plugin == "o"  # no conflict left behind
    assert manager.conflicts() == []


def test_in_strict_mode_a_duplicate_is_raised_as_itself_naming_the_plugin(make_plugin, manager_with):
    twice = make_plugin("t", unibind_encoders=registers(enc("x"), enc("x")))
    with pytest.raises(DuplicateRegistrationError) as caught:
        manager_with({"t": twice}, strict=True)
    assert str(caught.value) == ("plugin 't' is broken: unibind_encoders: encoder 'x' is registered twice by 't' "
                                 "(strict mode)")
    assert isinstance(caught.value.__cause__, DuplicateRegistrationError)


def test_in_strict_mode_another_exception_becomes_a_plugin_error(make_plugin, manager_with):
    def boom(register):
        raise OSError("disk gone")

    with pytest.raises(PluginError) as caught:
        manager_with({"b": make_plugin("b", unibind_encoders=boom)}, strict=True)
    assert isinstance(caught.value.__cause__.__cause__, OSError)  # the plugin's own error stays reachable
    assert str(caught.value) == "plugin 'b' is broken: unibind_encoders raised OSError: disk gone (strict mode)"


def test_a_broken_plugin_keeps_its_traceback_and_its_error_in_list_plugins(make_plugin, manager_with):
    def boom(register):
        raise LookupError("no weights")

    manager = manager_with({"b": make_plugin("b", unibind_encoders=boom)})
    info = manager.plugins["b"]
    first, second = info.traceback.splitlines()[:2]
    assert first == "Traceback (most recent call last):" and second.startswith('  File "')
    assert 'File "' in info.traceback and "in boom" in info.traceback  # the plugin's own frame
    assert info.traceback.rstrip().endswith("Error: unibind_encoders raised LookupError: no weights")
    assert "LookupError: no weights\n" in info.traceback  # the plugin's exception, chained
    data = info.as_dict()
    assert (data["status"], data["error"], data["builtin"]) == ("broken", "unibind_encoders raised LookupError: no weights",
                                                                  False)
    assert data["registers"] == {} and data["components"] == []


def test_registering_the_wrong_type_names_both_types(make_plugin, manager_with):
    manager = manager_with({"w": make_plugin("w", unibind_adapters=registers(enc("not-an-adapter")))})
    assert manager.plugins["w"].error == "unibind_adapters: register() expected a AdapterSpec, got EncoderSpec"


def test_a_hook_that_registers_nothing_is_not_warned_about(make_plugin, manager_with):
    manager = manager_with({"quiet": make_plugin("q", unibind_encoders=lambda register: None,
                                                 unibind_adapters=lambda register: [])})
    assert manager.plugins["quiet"].warnings == [] and manager.plugins["quiet"].status == "ok"


def test_a_hook_that_registers_and_also_returns_is_not_warned_about(make_plugin, manager_with):
    def both(register):
        spec = enc("both")
        register(spec)
        return spec

    returns_many = make_plugin("r", unibind_encoders=lambda register: (enc("a"), "not a spec", enc("b")),
                               unibind_adapters=lambda register: {AdapterSpec(name="s", factory="m:f")})
    manager = manager_with({"both": make_plugin("both", unibind_encoders=both), "r": returns_many})
    assert manager.plugins["both"].warnings == []
    assert [s.name for s in manager.plugins["both"].specs] == ["both"]
    assert sorted(manager.plugins["r"].warnings) == [
        "unibind_adapters returned 1 spec(s) (s) instead of calling register(spec); nothing was registered from it",
        "unibind_encoders returned 2 spec(s) (a, b) instead of calling register(spec); nothing was registered from it",
    ]
    assert manager.plugins["r"].status == "ok"


def test_as_dict_lists_what_each_component_serves(make_plugin, manager_with):
    plugin = make_plugin("p", unibind_modalities=registers(ModalitySpec(name="depth", factory="m:f")),
                         unibind_adapters=registers(AdapterSpec(name="ad", factory="m:f", modalities=("video", "audio")),
                                                    AdapterSpec(name="any", factory="m:f")),
                         unibind_encoders=registers(enc("e", "thermal")),
                         unibind_calibrators=registers(CalibratorSpec(name="cal", factory="m:f")),
                         unibind_validators=registers(ValidatorSpec(name="val", factory="m:f")))
    data = manager_with({"p": plugin}).plugins["p"].as_dict()
    assert data["modalities"] == ["audio", "depth", "thermal", "video"]
    assert data["registers"] == {"modality": ["depth"], "encoder": ["e"], "adapter": ["ad", "any"],
                                 "calibrator": ["cal"], "validator": ["val"]}
    assert [c["qualified_name"] for c in data["components"]] == ["p:depth", "p:e", "p:ad", "p:any", "p:cal", "p:val"]
    assert data["components"][1]["kind"] == "encoder" and data["components"][1]["modality"] == "thermal"
    assert (data["name"], data["status"], data["error"], data["warnings"]) == ("p", "ok", None, [])


# -- preferences ----------------------------------------------------------------------------------------
def _two_with(make_plugin, manager_with, monkeypatch, prefer: str, **extra):
    monkeypatch.setenv("UNIBIND_CONFIG", os.devnull)
    monkeypatch.setenv("UNIBIND_PREFER", prefer)
    hooks = {"unibind_encoders": registers(enc("lite")), "unibind_modalities": registers(
        ModalitySpec(name="lite", factory="m:f", suffixes=(".lite",)))}
    return manager_with({"a": make_plugin("a", **hooks), "b": make_plugin("b", **hooks), **extra})


def test_preferences_given_to_the_manager_are_used_instead_of_the_environment(make_plugin, monkeypatch, clean_env):
    clean_env.setenv("UNIBIND_PREFER", "encoder:lite=a")
    manager = PluginManager(enabled=set(), preferences=[("encoder", "lite", "b", "a test")])
    assert (manager.unused_preferences, manager.command_conflicts) == ([], [])  # before anything is loaded
    for name in "ab":
        manager.add_plugin(make_plugin(name, unibind_encoders=registers(enc("lite"))), name)
    registry = manager.collect()
    assert registry.get("encoder", "lite").plugin == "b"
    assert registry.conflicts()[0].chosen.source == "a test"


def test_a_preference_without_a_kind_settles_every_kind_of_that_name(make_plugin, manager_with, monkeypatch):
    registry = _two_with(make_plugin, manager_with, monkeypatch, "lite=unibind-plugin-b").registry
    assert registry.get("encoder", "lite").plugin == "b"
    assert registry.modality_for_path("x.lite").plugin == "b"
    assert sorted((p.kind, p.name, p.plugin) for p in registry.preferences()) == [
        ("encoder", "lite", "b"), ("modality", "lite", "b")]


def test_a_preference_with_a_kind_settles_only_that_kind(make_plugin, manager_with, monkeypatch):
    registry = _two_with(make_plugin, manager_with, monkeypatch, "encoder:lite=a").registry
    assert registry.get("encoder", "lite").plugin == "a"
    assert [(c.kind, c.chosen) for c in registry.conflicts()] == [("modality", None), ("encoder", registry.preferences()[0])]


def test_a_preference_for_a_broken_plugin_is_an_error_saying_why(make_plugin, manager_with, monkeypatch):
    def boom(register):
        raise RuntimeError("weights missing")

    with pytest.raises(PluginConfigError) as caught:
        _two_with(make_plugin, manager_with, monkeypatch, "encoder:lite=c",
                  c=make_plugin("c", unibind_encoders=boom))
    assert str(caught.value) == ("UNIBIND_PREFER prefers 'c' for encoder 'lite', but plugin 'c' is broken: "
                                 "unibind_encoders raised RuntimeError: weights missing; encoder 'lite' is "
                                 "registered by: a, b")


def test_a_kindless_preference_for_a_plugin_without_the_name_names_both_claimants(make_plugin, manager_with,
                                                                                  monkeypatch):
    with pytest.raises(PluginConfigError) as caught:
        _two_with(make_plugin, manager_with, monkeypatch, "lite=c",
                  c=make_plugin("c", unibind_encoders=registers(enc("other"))))
    assert str(caught.value) == ("UNIBIND_PREFER prefers 'c' for 'lite', but plugin 'c' registers no 'lite'; "
                                 "'lite' is registered by: a, b")


def test_a_preference_of_one_kind_is_checked_against_that_kind_only(make_plugin, manager_with, monkeypatch):
    """Plugin 'c' claims modality 'lite' but no encoder 'lite': preferring it for the encoder is an error."""
    with pytest.raises(PluginConfigError) as caught:
        _two_with(make_plugin, manager_with, monkeypatch, "encoder:lite=c",
                  c=make_plugin("c", unibind_modalities=registers(ModalitySpec(name="lite", factory="m:f"))))
    assert str(caught.value) == ("UNIBIND_PREFER prefers 'c' for encoder 'lite', but plugin 'c' registers no "
                                 "encoder 'lite'; encoder 'lite' is registered by: a, b")


def test_a_preference_never_picks_a_plugin_broken_after_registering(make_plugin, manager_with, monkeypatch):
    """'c' registered its encoder, then broke adding commands: preferring it is refused on the next collect."""
    def boom(cli):
        raise RuntimeError("bad command")

    manager = _two_with(make_plugin, manager_with, monkeypatch, "",
                        c=make_plugin("c", unibind_encoders=registers(enc("lite")), unibind_commands=boom))
    assert {s.plugin for s in manager.registry.claimants("encoder", "lite")} == {"a", "b", "c"}
    manager.add_commands(_cli())
    assert manager.plugins["c"].status == "broken"
    # a broken plugin serves nothing: its encoder left the registry with it
    assert {s.plugin for s in manager.registry.claimants("encoder", "lite")} == {"a", "b"}
    assert manager.plugins["c"].specs == []
    manager._preference_entries = [("encoder", "lite", "c", "UNIBIND_PREFER")]
    with pytest.raises(PluginConfigError, match="but plugin 'c' is broken: unibind_commands raised RuntimeError"):
        manager.collect()


def test_an_unused_preference_is_kept_for_list_plugins_and_reset_on_collect(make_plugin, manager_with, monkeypatch):
    manager = _two_with(make_plugin, manager_with, monkeypatch, "modality:gone=a,command:hi=a,encoder:lite=a")
    assert manager.unused_preferences == [
        "UNIBIND_PREFER: modality 'gone'=a (nothing loaded registers modality 'gone')"]
    assert manager.registry.get("encoder", "lite").plugin == "a"  # the entries after them still count
    manager.collect()
    assert len(manager.unused_preferences) == 1


def test_strict_mode_names_the_first_unsettled_conflict_and_where_to_settle_it(make_plugin, monkeypatch, tmp_path,
                                                                              clean_env):
    clean_env.setenv("UNIBIND_CONFIG", str(tmp_path / "c.toml"))
    (tmp_path / "c.toml").write_text("")
    manager = PluginManager(strict=True, enabled=set())
    for name in ("b", "a"):
        manager.add_plugin(make_plugin(name, unibind_encoders=registers(enc("lite"), enc("zeta"))), name)
    with pytest.raises(PluginError) as caught:
        manager.collect()
    assert str(caught.value) == (
        "encoder 'lite' is registered by 'a' and 'b'; use 'a:lite' or 'b:lite', or choose one with "
        f'UNIBIND_PREFER="encoder:lite=a" (or under [prefer] in {tmp_path / "c.toml"})')


# -- sub-commands --------------------------------------------------------------------------------------
def _cli():
    @click.group()
    def cli():
        pass

    @cli.group("bench")
    def bench():
        pass

    @bench.command("core-bench")
    def core_bench():
        click.echo("core bench")

    return cli


def _adds(group: str | None, name: str, said: str, *, then_raise: bool = False):
    def add(cli):
        target = cli.commands[group] if group else cli

        @target.command(name)
        def command():
            click.echo(said)

        if then_raise:
            raise RuntimeError("half done")
    return add


def test_a_plugin_failing_half_way_through_adding_commands_leaves_none_of_them(make_plugin, manager_with,
                                                                              monkeypatch):
    monkeypatch.setenv("UNIBIND_CONFIG", os.devnull)

    def half(cli):
        _adds(None, "early", "early")(cli)
        _adds("bench", "core-bench", "replaced")(cli)
        raise RuntimeError("half done")

    manager = manager_with({"h": make_plugin("h", unibind_commands=half),
                            "ok": make_plugin("ok", unibind_commands=_adds("bench", "speed", "fast"))})
    cli = _cli()
    manager.add_commands(cli)
    runner = CliRunner()
    assert "early" not in cli.commands
    assert runner.invoke(cli, ["bench", "core-bench"]).output == "core bench\n"
    assert runner.invoke(cli, ["bench", "speed"]).output == "fast\n"
    assert manager.plugins["h"].status == "broken"
    assert manager.plugins["h"].error == "unibind_commands raised RuntimeError: half done"
    assert manager.plugins["h"].traceback.rstrip().endswith("RuntimeError: half done")
    assert "in half" in manager.plugins["h"].traceback
    # a broken plugin gets no second chance to add commands
    again = _cli()
    manager.add_commands(again)
    assert "early" not in again.commands and set(again.commands["bench"].commands) == {"core-bench", "speed"}


def test_a_plugin_broken_while_registering_adds_no_commands(make_plugin, manager_with, monkeypatch):
    monkeypatch.setenv("UNIBIND_CONFIG", os.devnull)

    def boom(register):
        raise RuntimeError("no weights")

    manager = manager_with({"a-broken": make_plugin("x", unibind_encoders=boom,
                                                     unibind_commands=_adds(None, "ghost", "from a broken plugin")),
                            "b-fine": make_plugin("y", unibind_commands=_adds(None, "fine", "fine"))})
    cli = _cli()
    manager.add_commands(cli)
    assert "ghost" not in cli.commands
    assert CliRunner().invoke(cli, ["fine"]).output == "fine\n"
    assert manager.plugins["a-broken"].error == "unibind_encoders raised RuntimeError: no weights"


def test_ctrl_c_while_adding_commands_is_not_swallowed(make_plugin, manager_with):
    def interrupted(cli):
        raise KeyboardInterrupt

    manager = manager_with({"k": make_plugin("k", unibind_commands=interrupted)})
    with pytest.raises(KeyboardInterrupt):
        manager.add_commands(_cli())


def test_a_plugin_adding_a_core_command_still_offers_its_other_commands(make_plugin, manager_with, monkeypatch):
    monkeypatch.setenv("UNIBIND_CONFIG", os.devnull)

    def core_and_extra(cli):
        _adds(None, "bench", "not the core's bench")(cli)
        _adds(None, "extra", "extra from c")(cli)

    manager = manager_with({"c": make_plugin("c", unibind_commands=core_and_extra),
                            "d": make_plugin("d", unibind_commands=_adds(None, "extra", "extra from d"))})
    cli = _cli()
    manager.add_commands(cli)
    runner = CliRunner()
    assert runner.invoke(cli, ["bench", "core-bench"]).output == "core bench\n"
    assert runner.invoke(cli, ["c:extra"]).output == "extra from c\n"
    assert runner.invoke(cli, ["d:extra"]).output == "extra from d\n"
    assert manager.plugins["c"].warnings == ["unibind_commands: command 'bench' is the core's; not replaced"]
    assert manager.plugins["d"].warnings == []
    assert [(c.name, c.plugins) for c in manager.conflicts()] == [("extra", ("c", "d"))]


def test_a_command_added_under_another_name_keeps_that_name(make_plugin, manager_with, monkeypatch):
    monkeypatch.setenv("UNIBIND_CONFIG", os.devnull)
    monkeypatch.setenv("UNIBIND_PREFER", "command:shared=b")

    def under(alias, said):
        def add(cli):
            @click.command("internal-name")
            def command():
                click.echo(said)
            cli.add_command(command, alias)
        return add

    manager = manager_with({"a": make_plugin("a", unibind_commands=under("solo", "solo")),
                            "b": make_plugin("b", unibind_commands=under("shared", "shared from b")),
                            "c": make_plugin("c", unibind_commands=under("shared", "shared from c"))})
    cli = _cli()
    manager.add_commands(cli)
    runner = CliRunner()
    assert runner.invoke(cli, ["solo"]).output == "solo\n"
    assert runner.invoke(cli, ["shared"]).output == "shared from b\n"
    assert runner.invoke(cli, ["c:shared"]).output == "shared from c\n"
    assert "internal-name" not in cli.commands


def test_an_unsettled_command_names_the_config_file_to_settle_it_in(make_plugin, manager_with, monkeypatch,
                                                                    tmp_path):
    monkeypatch.setenv("UNIBIND_CONFIG", str(tmp_path / "c.toml"))
    (tmp_path / "c.toml").write_text("")
    manager = manager_with({name: make_plugin(name, unibind_commands=_adds(None, "speed", name)) for name in "ab"})
    cli = _cli()
    manager.add_commands(cli)
    used = CliRunner().invoke(cli, ["speed"])
    assert used.exit_code == 2
    assert " ".join(used.output.split()).endswith(
        "Error: command 'speed' is registered by 'a' and 'b'; use 'a:speed' or 'b:speed', or choose one with "
        f'UNIBIND_PREFER="command:speed=a" (or under [prefer] in {tmp_path / "c.toml"})')


def test_a_command_preference_for_a_plugin_not_loaded_settles_nothing(make_plugin, manager_with, monkeypatch):
    monkeypatch.setenv("UNIBIND_CONFIG", os.devnull)
    monkeypatch.setenv("UNIBIND_PREFER", "command:speed=gone")
    manager = manager_with({name: make_plugin(name, unibind_commands=_adds(None, "speed", name)) for name in "ab"})
    cli = _cli()
    manager.add_commands(cli)
    assert CliRunner().invoke(cli, ["speed"]).exit_code == 2
    assert manager.conflicts()[0].chosen is None


def test_commands_in_a_sub_group_follow_the_same_rules(make_plugin, manager_with, monkeypatch):
    monkeypatch.setenv("UNIBIND_CONFIG", os.devnull)
    manager = manager_with({name: make_plugin(name, unibind_commands=_adds("bench", "speed", f"from {name}"))
                            for name in ("a", "b", "c")})
    cli = _cli()
    manager.add_commands(cli)
    runner = CliRunner()
    assert [runner.invoke(cli, ["bench", f"{p}:speed"]).output for p in "abc"] == ["from a\n", "from b\n", "from c\n"]
    bare = runner.invoke(cli, ["bench", "speed"])
    assert bare.exit_code != 0 and "command 'speed' is registered by 'a', 'b' and 'c'" in bare.output
    assert "speed" not in cli.commands  # stays in its group
    help_text = runner.invoke(cli, ["bench", "--help"]).output
    assert "Provided by a and b and c: use a:speed or b:speed or c:speed" in " ".join(help_text.split())


def test_a_command_preference_may_name_the_distribution(make_plugin, manager_with, monkeypatch):
    monkeypatch.setenv("UNIBIND_CONFIG", os.devnull)
    monkeypatch.setenv("UNIBIND_PREFER", "command:speed=unibind-plugin-b")
    manager = manager_with({name: make_plugin(name, unibind_commands=_adds(None, "speed", f"from {name}"))
                            for name in ("a", "b")})
    cli = _cli()
    manager.add_commands(cli)
    runner = CliRunner()
    assert runner.invoke(cli, ["speed"]).output == "from b\n"
    assert runner.invoke(cli, ["a:speed"]).output == "from a\n"
    (conflict,) = manager.conflicts()
    assert (conflict.kind, conflict.name, conflict.plugins, conflict.chosen.plugin, conflict.chosen.source) == (
        "command", "speed", ("a", "b"), "b", "UNIBIND_PREFER")
    assert (conflict.chosen.kind, conflict.chosen.name) == ("command", "speed")


def test_a_command_only_one_plugin_adds_keeps_its_bare_name(make_plugin, manager_with, monkeypatch):
    monkeypatch.setenv("UNIBIND_CONFIG", os.devnull)
    manager = manager_with({"a": make_plugin("a", unibind_commands=_adds(None, "solo", "alone")),
                            "b": make_plugin("b", unibind_commands=_adds(None, "other", "other"))})
    cli = _cli()
    manager.add_commands(cli)
    assert CliRunner().invoke(cli, ["solo"]).output == "alone\n"
    assert CliRunner().invoke(cli, ["other"]).output == "other\n"
    assert "a:solo" not in cli.commands and manager.command_conflicts == []
    assert manager.plugins["a"].warnings == manager.plugins["b"].warnings == []  # the core's commands untouched


# -- the process-wide manager ---------------------------------------------------------------------------
def test_the_process_wide_manager_is_loaded_once_and_can_be_replaced(monkeypatch, clean_env):
    calls = []
    monkeypatch.setattr(plugins, "entry_points", lambda group: calls.append(group) or [])
    reset_plugin_manager()
    first = get_plugin_manager()
    assert get_plugin_manager() is first and get_registry() is first.registry and calls == ["unibind"]
    replacement = PluginManager(enabled=set(), preferences=[])
    reset_plugin_manager(replacement)
    assert get_plugin_manager() is replacement
    reset_plugin_manager()
    assert get_plugin_manager() is not replacement and len(calls) == 2
