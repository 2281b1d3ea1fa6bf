"""Qualified names, conflicts between plugins and how the user settles them; the plugin
settings a user can get wrong; isolation of plugins that exit; what list-plugins shows."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from unibind_cli.main import cli

from unibind.errors import NameConflictError, NotRegisteredError, PluginConfigError, PluginError
from unibind.plugins import PluginManager, reset_plugin_manager
from unibind.specs import AdapterSpec, EncoderSpec, ModalitySpec


@dataclass
class FakeEntryPoint:
    """An installed plugin as importlib.metadata shows it: entry-point name, module, distribution."""

    name: str
    value: str
    distribution: str

    @property
    def dist(self):
        return SimpleNamespace(name=self.distribution, version="1.0")

    def load(self):
        __import__(self.value)
        return sys.modules[self.value]


def _image_like(plugin_modality: str, *, default: bool = True):
    """Hooks of a plugin registering its own modality and an encoder named efficientnet-lite0."""
    def modalities(register):
        register(ModalitySpec(name=plugin_modality, factory="unibind.modality:TextModality",
                              suffixes=(f".{plugin_modality}",)))

    def encoders(register):
        register(EncoderSpec(name="efficientnet-lite0", modality="image", factory="m:f", default=default,
                             priority=1))
        register(EncoderSpec(name=f"{plugin_modality}-enc", modality=plugin_modality, factory="m:f",
                             default=True))

    return {"unibind_modalities": modalities, "unibind_encoders": encoders}


@pytest.fixture
def two_claimants(make_plugin, monkeypatch):
    """Two installed plugins, 'image' and 'imu', both registering encoder 'efficientnet-lite0'."""
    monkeypatch.setitem(sys.modules, "fake_image_plugin", make_plugin("fake_image_plugin", **_image_like("photo")))
    monkeypatch.setitem(sys.modules, "fake_imu_plugin", make_plugin("fake_imu_plugin", **_image_like("imu")))
    eps = [FakeEntryPoint("imu", "fake_imu_plugin", "unibind-plugin-imu"),
           FakeEntryPoint("image", "fake_image_plugin", "unibind-plugin-image")]
    monkeypatch.setattr("unibind.plugins.entry_points", lambda group: eps)
    monkeypatch.delenv("UNIBIND_PREFER", raising=False)
    monkeypatch.delenv("UNIBIND_PLUGINS", raising=False)
    monkeypatch.delenv("UNIBIND_STRICT", raising=False)
    monkeypatch.delenv("UNIBIND_QUIET", raising=False)
    monkeypatch.setenv("UNIBIND_CONFIG", os.devnull)
    return eps


def test_a_conflict_costs_neither_plugin_anything(two_claimants):
    registry = PluginManager().load().registry
    # both plugins load, with all their other components
    assert registry.get("modality", "imu").plugin == "imu"
    assert registry.get("modality", "photo").plugin == "image"
    assert registry.get("encoder", "imu-enc").plugin == "imu"
    # qualified names always resolve
    assert registry.get("encoder", "image:efficientnet-lite0").plugin == "image"
    assert registry.get("encoder", "imu:efficientnet-lite0").plugin == "imu"
    # the bare name, asked for or as the image default, is an error naming both and the remedy
    for ask in (lambda: registry.get("encoder", "efficientnet-lite0"), lambda: registry.default("encoder", "image")):
        with pytest.raises(NameConflictError) as caught:
            ask()
        message = str(caught.value)
        assert "'image' and 'imu'" in message and "'image:efficientnet-lite0'" in message
        assert 'UNIBIND_PREFER="encoder:efficientnet-lite0=' in message and "\n" not in message
    (conflict,) = registry.conflicts()
    assert (conflict.kind, conflict.name, conflict.plugins, conflict.chosen) == (
        "encoder", "efficientnet-lite0", ("image", "imu"), None)


def test_load_order_does_not_decide(two_claimants, make_plugin):
    forward = PluginManager().load(two_claimants).registry
    backward = PluginManager().load(list(reversed(two_claimants))).registry
    for registry in (forward, backward):
        with pytest.raises(NameConflictError):
            registry.get("encoder", "efficientnet-lite0")


@pytest.mark.parametrize("entry", ["encoder:efficientnet-lite0=imu", "efficientnet-lite0=unibind-plugin-imu"])
def test_a_preference_in_the_environment_settles_it(two_claimants, monkeypatch, entry):
    monkeypatch.setenv("UNIBIND_PREFER", f" {entry} ")
    registry = PluginManager().load().registry
    assert registry.get("encoder", "efficientnet-lite0").plugin == "imu"
    assert registry.default("encoder", "image").plugin == "imu"
    assert registry.get("encoder", "image:efficientnet-lite0").plugin == "image"  # still reachable
    (conflict,) = registry.conflicts()
    assert conflict.chosen.plugin == "imu" and conflict.chosen.source == "UNIBIND_PREFER"
    assert registry.reference(registry.get("encoder", "image:efficientnet-lite0")) == "image:efficientnet-lite0"
    assert registry.reference(registry.get("encoder", "imu:efficientnet-lite0")) == "efficientnet-lite0"


def test_the_config_file_settles_it_and_the_variable_wins(two_claimants, monkeypatch, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[prefer]\n"encoder:efficientnet-lite0" = "image"\n')
    monkeypatch.setenv("UNIBIND_CONFIG", str(config))
    registry = PluginManager().load().registry
    assert registry.get("encoder", "efficientnet-lite0").plugin == "image"
    assert registry.conflicts()[0].chosen.source == str(config)
    monkeypatch.setenv("UNIBIND_PREFER", "encoder:efficientnet-lite0=imu")
    assert PluginManager().load().registry.get("encoder", "efficientnet-lite0").plugin == "imu"


@pytest.mark.parametrize(("prefer", "config", "expected"), [
    ("encoder:efficientnet-lite0=imuu", None, ("prefers 'imuu' for encoder 'efficientnet-lite0', but plugin "
                                               "'imuu' is not loaded (loaded plugins: image, imu, unibind); "
                                               "encoder 'efficientnet-lite0' is registered by: image, imu")),
    ("encoder:efficientnet-lite0", None, "expected 'kind:name=plugin'"),
    ("encoders:efficientnet-lite0=imu", None, "unknown kind 'encoders'"),
    ("encoder:photo-enc=imu", None, ("but plugin 'imu' registers no encoder 'photo-enc'; encoder 'photo-enc' "
                                     "is registered by: image")),
    ("", "[prefer\n", "cannot read the config file"),
    ("", '[prefer]\n"encoder:x" = 3\n', "[prefer] must map"),
    ("", "missing", "UNIBIND_CONFIG names"),
])
def test_a_preference_that_cannot_be_honoured_is_an_error(two_claimants, monkeypatch, tmp_path, prefer, config,
                                                          expected):
    monkeypatch.setenv("UNIBIND_PREFER", prefer)
    if config == "missing":
        monkeypatch.setenv("UNIBIND_CONFIG", str(tmp_path / "typo.toml"))
    elif config is not None:
        (tmp_path / "c.toml").write_text(config)
        monkeypatch.setenv("UNIBIND_CONFIG", str(tmp_path / "c.toml"))
    with pytest.raises(PluginConfigError) as caught:
        PluginManager().load()
    assert expected in str(caught.value)
    result = CliRunner().invoke(cli, ["list-plugins"])
    assert result.exit_code != 0 and result.stderr.startswith("Error: ") and expected in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output


def test_a_preference_about_a_name_nothing_loaded_claims_is_shown_not_fatal(two_claimants, monkeypatch):
    monkeypatch.setenv("UNIBIND_PREFER", "encoder:gone=unibind-plugin-gone")
    manager = PluginManager().load()
    assert manager.unused_preferences == [
        "UNIBIND_PREFER: encoder 'gone'=unibind-plugin-gone (nothing loaded registers encoder 'gone')"]
    result = CliRunner().invoke(cli, ["list-plugins"])
    assert result.exit_code == 0 and "unused preference: UNIBIND_PREFER: encoder 'gone'" in result.output


def test_a_preference_without_a_conflict_is_still_shown(two_claimants, monkeypatch):
    monkeypatch.setenv("UNIBIND_PREFER", "encoder:imu-enc=imu")
    result = CliRunner().invoke(cli, ["list-plugins"])
    assert "preference: encoder 'imu-enc' = 'imu' (by UNIBIND_PREFER; no other plugin claims it now)" in " ".join(
        result.output.split())


def test_strict_mode_refuses_an_unsettled_conflict_naming_both(two_claimants, monkeypatch):
    monkeypatch.setenv("UNIBIND_STRICT", "1")
    with pytest.raises(PluginError, match="'image' and 'imu'"):
        PluginManager().load()
    monkeypatch.setenv("UNIBIND_PREFER", "encoder:efficientnet-lite0=image")
    assert PluginManager().load().registry.default("encoder", "image").plugin == "image"


def test_a_conflicting_modality_name_resolves_files_only_once_settled(make_plugin, manager_with, monkeypatch):
    def imu(register):
        register(ModalitySpec(name="imu", factory="unibind.modality:TextModality", suffixes=(".imu.csv",)))

    monkeypatch.setenv("UNIBIND_CONFIG", os.devnull)
    plugins = {"a": make_plugin("a", unibind_modalities=imu), "b": make_plugin("b", unibind_modalities=imu)}
    with pytest.raises(NameConflictError, match="modality 'imu' is registered by 'a' and 'b'"):
        manager_with(plugins).registry.modality_for_path("walk.imu.csv")
    monkeypatch.setenv("UNIBIND_PREFER", "modality:imu=b")
    assert manager_with(plugins).registry.modality_for_path("walk.imu.csv").plugin == "b"


def test_list_plugins_shows_the_conflict_and_the_choice(two_claimants, monkeypatch):
    result = CliRunner().invoke(cli, ["list-plugins"])
    assert result.exit_code == 0, result.output
    assert "encoder 'efficientnet-lite0' is registered by 'image' and 'imu'; unsettled" in " ".join(
        result.output.split())
    assert "UNIBIND_PREFER" in result.output
    monkeypatch.setenv("UNIBIND_PREFER", "encoder:efficientnet-lite0=imu")
    reset_plugin_manager()
    settled = CliRunner().invoke(cli, ["list-plugins"])
    assert "'imu' chosen by UNIBIND_PREFER" in " ".join(settled.output.split())
    reset_plugin_manager()
    listed = json.loads(CliRunner().invoke(cli, ["list-plugins", "--json"]).output)
    imu = next(p for p in listed if p["name"] == "imu")
    assert imu["conflicts"] == [{"kind": "encoder", "name": "efficientnet-lite0", "plugins": ["image", "imu"],
                                 "chosen": "imu", "chosen_by": "UNIBIND_PREFER"}]
    assert "imu:efficientnet-lite0" in {c["qualified_name"] for c in imu["components"]}


def test_an_allow_list_typo_is_an_error_naming_the_installed_plugins(two_claimants, monkeypatch):
    monkeypatch.setenv("UNIBIND_PLUGINS", "imuu")
    with pytest.raises(PluginConfigError, match=r"UNIBIND_PLUGINS names 'imuu'.*installed plugins: image, imu"):
        PluginManager().load()
    for args in (["list-plugins"], ["--quiet", "embed", "text", "x"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code != 0 and result.stderr.startswith("Error: UNIBIND_PLUGINS names 'imuu'")
        assert "Traceback" not in result.output
    monkeypatch.setenv("UNIBIND_PLUGINS", "unibind-plugin-imu")  # a distribution name is fine too
    assert set(PluginManager().load().plugins) == {"unibind", "imu"}


def test_a_hook_returning_specs_is_warned_about(make_plugin, manager_with):
    plugin = make_plugin("r", unibind_adapters=lambda register: [AdapterSpec(name="forgot", factory="m:f")])
    manager = manager_with({"r": plugin})
    reset_plugin_manager(manager)
    (warning,) = manager.plugins["r"].warnings
    assert warning.startswith("unibind_adapters returned 1 spec(s) (forgot) instead of calling register(spec)")
    result = CliRunner().invoke(cli, ["list-plugins"])
    assert "warning: unibind_adapters returned 1 spec(s)" in result.output


def test_errors_keep_their_brackets_and_name_the_hook(make_plugin, manager_with):
    def bad(register):
        register(AdapterSpec(name="Bad Name", factory="m:f"))

    manager = manager_with({"v": make_plugin("v", unibind_adapters=bad)})
    reset_plugin_manager(manager)
    error = manager.plugins["v"].error
    assert error.startswith("unibind_adapters raised ValueError: AdapterSpec.name: 'Bad Name'")
    assert "'^[a-z0-9][a-z0-9._-]*$'" in error
    result = CliRunner().invoke(cli, ["list-plugins"])
    assert "'^[a-z0-9][a-z0-9._-]*$'" in result.output.replace("\n      ", " ")


def test_list_plugins_fits_80_columns_without_cutting_names(make_plugin, manager_with):
    long_names = [f"encoder-with-a-rather-long-name-{i}" for i in range(6)]
    plugin = make_plugin("p", unibind_encoders=lambda register: [
        register(EncoderSpec(name=n, modality="image", factory="m:f")) for n in long_names])
    manager = PluginManager(strict=False, enabled=set(), preferences=[])
    manager.add_plugin(plugin, "unibind-plugin-with-a-long-name", distribution="unibind-plugin-with-a-long-name",
                       version="1.0")
    reset_plugin_manager(manager.collect() and manager)
    result = CliRunner().invoke(cli, ["list-plugins"], terminal_width=80)
    assert result.exit_code == 0
    assert max(len(line) for line in result.output.splitlines()) <= 80
    for name in long_names + ["unibind-plugin-with-a-long-name"]:
        assert name in result.output


def test_a_plugin_exiting_at_import_or_in_a_hook_is_isolated(make_plugin, monkeypatch):
    class Exits:
        name, value, dist = "exits", "fake_exits", None

        def load(self):
            raise SystemExit(3)

    def hook_exits(register):
        sys.exit(4)

    monkeypatch.setitem(sys.modules, "fake_hook_exits", make_plugin("fake_hook_exits", unibind_encoders=hook_exits))
    monkeypatch.setitem(sys.modules, "fake_fine", make_plugin("fake_fine", **_image_like("fine")))
    eps = [Exits(), FakeEntryPoint("hook-exits", "fake_hook_exits", "d"), FakeEntryPoint("fine", "fake_fine", "d2")]
    manager = PluginManager(strict=False, enabled=None, preferences=[]).load(eps)
    assert manager.plugins["exits"].error == "import of fake_exits failed: SystemExit: 3"
    assert manager.plugins["hook-exits"].error == "unibind_encoders raised SystemExit: 4"
    assert manager.plugins["fine"].status == "ok" and manager.registry.get("modality", "fine")


def test_ctrl_c_in_a_plugin_is_not_swallowed(make_plugin):
    def interrupted(register):
        raise KeyboardInterrupt

    manager = PluginManager(strict=False, enabled=set(), preferences=[])
    manager.add_plugin(make_plugin("k", unibind_encoders=interrupted), "k")
    with pytest.raises(KeyboardInterrupt):
        manager.collect()


def test_strict_mode_with_a_broken_plugin_is_one_error_line(make_plugin, monkeypatch, capsys):
    from unibind_cli.main import main

    monkeypatch.setitem(sys.modules, "fake_div", make_plugin("fake_div", unibind_encoders=lambda register: 1 / 0))
    monkeypatch.setattr("unibind.plugins.entry_points", lambda group: [FakeEntryPoint("div", "fake_div", "d")])
    monkeypatch.setenv("UNIBIND_STRICT", "1")
    monkeypatch.delenv("UNIBIND_PLUGINS", raising=False)
    monkeypatch.setattr(sys, "argv", ["unibind", "list-plugins"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code != 0
    err = capsys.readouterr().err
    assert err == ("Error: plugin 'div' is broken: unibind_encoders raised ZeroDivisionError: division by zero "
                   "(strict mode)\n")


def test_broken_plugins_get_one_line_before_other_commands_unless_quiet(make_plugin, monkeypatch):
    monkeypatch.setitem(sys.modules, "fake_div", make_plugin("fake_div", unibind_encoders=lambda register: 1 / 0))
    manager = PluginManager(strict=False, enabled=None, preferences=[]).load([FakeEntryPoint("div", "fake_div", "d")])
    reset_plugin_manager(manager)
    monkeypatch.delenv("UNIBIND_QUIET", raising=False)
    noted = CliRunner().invoke(cli, ["kb", "--help"])
    assert noted.stderr.splitlines() == [
        "Warning: broken plugin skipped: div (see `unibind list-plugins`; UNIBIND_QUIET=1 hides this)"]
    assert CliRunner().invoke(cli, ["--quiet", "kb", "--help"]).stderr == ""
    monkeypatch.setenv("UNIBIND_QUIET", "1")
    assert CliRunner().invoke(cli, ["kb", "--help"]).stderr == ""
    assert CliRunner().invoke(cli, ["list-plugins"]).stderr == ""  # it shows them itself


def test_a_half_registered_plugin_is_rolled_back(make_plugin, manager_with):
    """Its first spec was added, its second collides: nothing of it stays, the others keep theirs."""
    def twice(register):
        register(EncoderSpec(name="first", modality="image", factory="m:f"))
        register(EncoderSpec(name="second", modality="image", factory="m:f"))
        register(EncoderSpec(name="second", modality="image", factory="m:g"))

    def modality(register):
        register(ModalitySpec(name="half", factory="m:f"))

    other = make_plugin("o", unibind_encoders=lambda register: register(
        EncoderSpec(name="second", modality="image", factory="m:f")))
    manager = manager_with({"other": other, "h": make_plugin("h", unibind_modalities=modality,
                                                                unibind_encoders=twice)})
    info = manager.plugins["h"]
    assert info.status == "broken" and info.specs == []
    assert info.error == "unibind_encoders: encoder 'second' is registered twice by 'h'"
    assert manager.registry.by_plugin("h") == []
    with pytest.raises(NotRegisteredError):
        manager.registry.get("modality", "half")
    assert manager.registry.get("encoder", "second").plugin == "other"


def test_a_space_uses_a_qualified_choice_end_to_end(make_plugin, manager_with, monkeypatch, tmp_path):
    """Names the space hands on (pipeline, text-cache identity) resolve back to the chosen plugin's spec."""
    from unibind.knowledge.testing import hashing_embed, hashing_encoder_spec
    from unibind.knowledge.textcache import TextEmbedder
    from unibind.space import Space

    monkeypatch.setenv("UNIBIND_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("UNIBIND_CONFIG", os.devnull)
    registry = manager_with({
        name: make_plugin(name, unibind_encoders=lambda register: register(hashing_encoder_spec()))
        for name in ("a", "b")}).registry
    with pytest.raises(NameConflictError, match="'a' and 'b'"):
        Space(registry=registry).pipeline("text")
    space = Space(registry=registry, text_encoder="b:hashing", settings={"hashing": {"salt": "b"}})
    assert space.pipeline("text").encoder_name == "b:hashing"
    embedder = TextEmbedder.from_space(space)
    assert embedder.identity["encoder"] == "b:hashing"
    assert embedder.identity["encoder_settings"]["salt"] == "b"  # the settings it was built with
    expected = hashing_embed("a dog", 64, "b")
    got = embedder(["a dog"])[0].numpy()
    assert abs(float(got @ expected) / float((expected**2).sum() ** 0.5) - 1) < 1e-4


def test_a_default_is_chosen_by_flags_and_a_tie_between_same_names_is_a_conflict(make_plugin, manager_with,
                                                                                  monkeypatch):
    monkeypatch.setenv("UNIBIND_CONFIG", os.devnull)
    monkeypatch.delenv("UNIBIND_PREFER", raising=False)

    def offers(default, priority=1):
        return make_plugin("x", unibind_encoders=lambda register: register(EncoderSpec(
            name="lite", modality="image", factory="m:f", default=default, priority=priority)))

    # only one of them offers itself as the default: the flags decide, and it stays reachable
    registry = manager_with({"a": offers(True), "b": offers(False)}).registry
    chosen = registry.default("encoder", "image")
    assert chosen.plugin == "a" and registry.reference(chosen) == "a:lite"
    # a higher priority decides too
    assert manager_with({"a": offers(True, 1), "b": offers(True, 5)}).registry.default("encoder", "image").plugin == "b"
    # same name, same priority: a conflict until settled
    with pytest.raises(NameConflictError, match="'a' and 'b'"):
        manager_with({"a": offers(True), "b": offers(True)}).registry.default("encoder", "image")
    monkeypatch.setenv("UNIBIND_PREFER", "encoder:lite=b")
    settled = manager_with({"a": offers(True), "b": offers(True)}).registry
    assert settled.default("encoder", "image").plugin == "b"
    assert [s.plugin for s in settled.defaults("encoder", "image")] == ["b"]


def test_list_plugins_starts_without_pydantic_or_rich():
    """What keeps its start-up small (benchmarks/startup_vs_llm.py has the figure)."""
    import subprocess

    probe = ("import sys, io, contextlib\nsys.argv = ['unibind', 'list-plugins', '--all']\n"
             "from unibind_cli.main import main\nwith contextlib.redirect_stdout(io.StringIO()):\n"
             "    try:\n        main()\n    except SystemExit:\n        pass\n"
             "print(sorted(m for m in ('pydantic', 'rich', 'torch', 'numpy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_two_distributions_with_one_entry_point_name_keep_the_first_and_report_the_other(make_plugin, monkeypatch):
    monkeypatch.setitem(sys.modules, "fake_image_one", make_plugin("fake_image_one", **_image_like("one")))
    monkeypatch.setitem(sys.modules, "fake_image_two", make_plugin("fake_image_two", **_image_like("two")))
    eps = [FakeEntryPoint("image", "fake_image_two", "zz-image"), FakeEntryPoint("image", "fake_image_one", "aa-image")]
    for order in (eps, list(reversed(eps))):  # by distribution name, not by install order
        manager = PluginManager(strict=False, enabled=None, preferences=[]).load(order)
        assert manager.plugins["image"].distribution == "aa-image"
        assert manager.registry.get("modality", "one").plugin == "image"
        other = manager.plugins["image@zz-image"]
        assert other.status == "broken" and "entry point name 'image' is also used by 'aa-image'" in other.error
