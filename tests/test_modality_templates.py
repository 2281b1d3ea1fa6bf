"""Every modality's prompt templates: of the image set's order, one class slot each, registered by its plugin."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from unibind.knowledge.templates import CLIP_IMAGENET_TEMPLATES, TemplateSource, check_templates, modality_templates
from unibind.plugins import get_registry, reset_plugin_manager
from unibind.specs import ModalitySpec


@pytest.fixture
def installed():
    """The registry of the installed plugins (entry points), as a user has it."""
    reset_plugin_manager()
    return get_registry()


def test_every_registered_modality_has_at_least_40_distinct_templates_with_one_class_slot(installed):
    names = {spec.name for spec in installed.by_kind("modality")}
    assert {"image", "text", "audio", "video", "thermal", "event", "pointcloud"} <= names
    source = TemplateSource(registry=installed)
    for name in sorted(names):
        templates = source.templates(name)
        assert len(set(templates)) == len(templates) >= 40, name
        for t in templates:
            assert t.count("{}") == 1 and t.count("{") == 1 and t.count("}") == 1, (name, t)
        filled = source.class_descriptions("hi-hat", name)
        assert all("hi-hat" in text and "{}" not in text for text in filled), name
    assert source.templates("image") == list(CLIP_IMAGENET_TEMPLATES)


def test_plugin_modalities_bring_their_own_sets_and_canonical_prompts(installed):
    source = TemplateSource(registry=installed)
    assert installed.get("modality", "audio").templates == "unibind_plugin_audio.templates:AUDIO_TEMPLATES"
    assert source.canonical_prompt("dog", "audio") == "the sound of a dog."
    assert source.canonical_prompt("dog", "image") == "a photo of a dog."
    sets = {name: frozenset(source.templates(name)) for name in ("audio", "video", "thermal", "event", "pointcloud")}
    for name, templates in sets.items():   # written for the modality, not the image set again
        assert not templates & set(CLIP_IMAGENET_TEMPLATES), name


def test_a_modality_registered_with_templates_gets_them(make_plugin, manager_with, tmp_path, monkeypatch):
    module = tmp_path / "my_sonar_templates.py"
    module.write_text("SONAR = ('a sonar image of a {}.', 'a sonar echo of the {}.')\n"
                      "BAD = ('a sonar image of a {}.', 'no slot here.')\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    def register(reference):
        return lambda register: register(ModalitySpec(name="sonar", factory="unibind.modality:Modality",
                                                      suffixes=(".sonar",), templates=reference))

    good = manager_with({"sonar": make_plugin("sonar", unibind_modalities=register("my_sonar_templates:SONAR"))})
    source = TemplateSource(registry=good.registry)
    assert source.templates("sonar") == ["a sonar image of a {}.", "a sonar echo of the {}."]
    assert source.class_descriptions("whale", "sonar")[1] == "a sonar echo of the whale."
    assert modality_templates("radar", good.registry) == modality_templates("no-such", good.registry)  # generic
    bad = manager_with({"sonar": make_plugin("sonar", unibind_modalities=register("my_sonar_templates:BAD"))})
    with pytest.raises(ValueError, match=r"modality 'sonar:sonar'.*template 1 'no slot here.'"):
        TemplateSource(registry=bad.registry).templates("sonar")


@pytest.mark.parametrize(("templates", "problem"), [
    (("a {} and a {}.",), "exactly once"), (("a photo.",), "exactly once"), (("a {name}.",), "exactly once"),
    (("a {}.", "a {}."), "repeated"), ("a {}.", "sequence"), ((), "sequence"), (("a {}.", 3), "not a string"),
])
def test_check_templates_names_the_bad_template(templates, problem):
    with pytest.raises(ValueError, match=problem) as refused:
        check_templates(templates, "my set")
    assert str(refused.value).startswith("my set: ")


def test_modality_spec_templates_must_be_a_reference():
    with pytest.raises(ValueError, match="ModalitySpec.templates"):
        ModalitySpec(name="sonar", factory="unibind.modality:Modality", templates="no-colon")


def test_extra_templates_are_checked_and_added(installed):
    from unibind.knowledge.templates import TemplateSettings

    source = TemplateSource(TemplateSettings(extra_templates={"audio": ["a hydrophone recording of a {}."]}),
                            registry=installed)
    assert source.templates("audio")[-1] == "a hydrophone recording of a {}."
    assert len(source.templates("audio")) == len(TemplateSource(registry=installed).templates("audio")) + 1
    with pytest.raises(ValueError, match=r"extra_templates\['audio'\]"):
        TemplateSource(TemplateSettings(extra_templates={"audio": ["no slot"]})).templates("audio")


def test_kb_templates_shows_the_count_per_modality(installed):
    from unibind_cli.main import cli

    shown = CliRunner().invoke(cli, ["kb", "templates", "--json"])
    assert shown.exit_code == 0, shown.output
    counts = json.loads(shown.output)
    assert counts["image"] == 80 and counts["audio"] == len(TemplateSource(registry=installed).templates("audio"))
    one = CliRunner().invoke(cli, ["kb", "templates", "--modality", "audio"])
    assert one.exit_code == 0 and one.output.startswith(f"audio: {counts['audio']} templates, canonical prompt "
                                                        "'the sound of a {}.'")
    unknown = CliRunner().invoke(cli, ["kb", "templates", "--modality", "sonar"])
    assert unknown.exit_code != 0 and "no modality named 'sonar'" in unknown.output


def test_eval_defaults_build_descriptions_not_templates():
    """ECL chooses among descriptions: the evaluation commands build a description source by default."""
    from unibind_cli.evaluate import report, zeroshot

    for command in (zeroshot, report):
        option = next(p for p in command.params if p.name == "sources")
        assert "templates" not in option.default and option.default == ("wordnet",), command.name
