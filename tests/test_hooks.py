"""One test per hook in the contract, plus a check that no hook goes untested."""

from __future__ import annotations

import inspect
import os
import sys

import click
from click.testing import CliRunner

from unibind import hookspecs
from unibind.specs import (
    AdapterSpec,
    CalibratorSpec,
    DescriptionSourceSpec,
    EncoderSpec,
    ModalitySpec,
    ValidatorSpec,
)


def test_hook_unibind_modalities(make_plugin, manager_with):
    plugin = make_plugin("p", unibind_modalities=lambda register: register(
        ModalitySpec(name="depth", factory="unibind.modality:TextModality", suffixes=("NPY",))))
    registry = manager_with({"p": plugin}).registry
    spec = registry.get("modality", "depth")
    assert spec.plugin == "p" and spec.suffixes == (".npy",)
    assert registry.modality_for_suffix(".NPY".lower()).name == "depth"


def test_hook_unibind_encoders(make_plugin, manager_with):
    plugin = make_plugin("p", unibind_encoders=lambda register: register(
        EncoderSpec(name="e", modality="text", factory="unibind.encoders.text:build_minilm", default=True,
                    priority=5)))
    registry = manager_with({"p": plugin}).registry
    assert registry.default("encoder", "text").name == "e"  # priority 5 beats the built-in's 0
    assert [s.name for s in registry.by_modality("encoder", "text")] == ["minilm", "hf-text", "e"]


def test_hook_unibind_adapters(make_plugin, manager_with):
    plugin = make_plugin("p", unibind_adapters=lambda register: register(
        AdapterSpec(name="bridge", factory="unibind.adapters.base:IdentityAdapter", modalities=("image",),
                    default=True)))
    registry = manager_with({"p": plugin}).registry
    assert registry.default("adapter", "image").name == "bridge"
    # adapters with no modalities (linear, mlp) serve every modality
    assert {s.name for s in registry.by_modality("adapter", "image")} == {"bridge", "linear", "mlp"}


def test_hook_unibind_description_sources(make_plugin, manager_with):
    plugin = make_plugin("p", unibind_description_sources=lambda register: register(
        DescriptionSourceSpec(name="captioner", factory="unibind.knowledge.templates:TemplateSource",
                              produces=("sample_captions",), modalities=("image",))))
    registry = manager_with({"p": plugin}).registry
    names = {s.name: s for s in registry.by_kind("description_source")}
    assert set(names) == {"templates", "captioner"}
    assert names["captioner"].produces == ("sample_captions",)


def test_hook_unibind_calibrators(make_plugin, manager_with):
    plugin = make_plugin("p", unibind_calibrators=lambda register: register(
        CalibratorSpec(name="histogram", factory="unibind.calibration.temperature:TemperatureScaler")))
    registry = manager_with({"p": plugin}).registry
    assert registry.get("calibrator", "histogram").plugin == "p"
    assert registry.default("calibrator").name == "temperature"


def test_hook_unibind_validators(make_plugin, manager_with):
    plugin = make_plugin("p", unibind_validators=lambda register: register(
        ValidatorSpec(name="second-encoder", factory="unibind.knowledge.templates:TemplateSource")))
    registry = manager_with({"p": plugin}).registry
    assert registry.get("validator", "second-encoder").plugin == "p"
    assert {"yes-no", "caption-agreement", "cross-modal"} <= {s.name for s in registry.by_kind("validator")}


def test_hook_unibind_commands(make_plugin, manager_with):
    def add(cli):
        @cli.command("hello")
        def hello():
            click.echo("hello from a plugin")

    manager = manager_with({"p": make_plugin("p", unibind_commands=add)})

    @click.group()
    def cli():
        pass

    manager.add_commands(cli)
    result = CliRunner().invoke(cli, ["hello"])
    assert result.exit_code == 0 and "hello from a plugin" in result.output


def test_every_hook_has_a_test():
    hooks = [name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction)
             if name.startswith("unibind_")]
    assert len(hooks) >= 7
    tests = {name for name in dir(sys.modules[__name__]) if name.startswith("test_hook_")}
    missing = [h for h in hooks if f"test_hook_{h}" not in tests]
    assert not missing, f"hooks without a test: {missing}"


def test_two_plugins_adding_one_command_name_are_both_reachable(make_plugin, manager_with, monkeypatch):
    """The command-name rules: qualified names work, the bare name says who, the core's is never replaced."""
    monkeypatch.setenv("UNIBIND_CONFIG", os.devnull)

    def adds(said, name="hello"):
        def add(cli):
            @cli.command(name)
            def hello():
                click.echo(said)
        return add

    def fresh_cli():
        @click.group()
        def cli():
            pass

        @cli.command("embed")
        def embed():
            click.echo("the core's embed")

        return cli

    plugins = {"a": make_plugin("a", unibind_commands=adds("from a")),
               "b": make_plugin("b", unibind_commands=adds("from b")),
               "c": make_plugin("c", unibind_commands=adds("from c", "embed"))}
    cli = fresh_cli()
    manager = manager_with(plugins)
    manager.add_commands(cli)
    runner = CliRunner()
    assert runner.invoke(cli, ["a:hello"]).output == "from a\n"
    assert runner.invoke(cli, ["b:hello"]).output == "from b\n"
    bare = runner.invoke(cli, ["hello", "--x"])
    assert bare.exit_code != 0 and "command 'hello' is registered by 'a' and 'b'" in bare.output
    assert runner.invoke(cli, ["embed"]).output == "the core's embed\n"
    assert manager.plugins["c"].warnings == ["unibind_commands: command 'embed' is the core's; not replaced"]
    assert [(c.kind, c.name, c.plugins) for c in manager.conflicts()] == [("command", "hello", ("a", "b"))]
    monkeypatch.setenv("UNIBIND_PREFER", "command:hello=b")
    cli = fresh_cli()
    manager_with(plugins).add_commands(cli)
    assert runner.invoke(cli, ["hello"]).output == "from b\n"
