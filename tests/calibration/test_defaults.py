"""Shipped default calibrators: their files and records, when they apply, and classify's default fallback.

The CLI tests run the text modality on the hashing test encoder with a default calibrator fitted here
on simulated sentences (made up below) and put where the shipped ones live, so the whole path runs
in seconds without a model; the shipped files themselves are checked against the embedded default.
"""

from __future__ import annotations

import json
import random

import pytest
import torch
from click.testing import CliRunner

from unibind.calibration import defaults
from unibind.calibration.defaults import DEFAULTS_DIR, default_calibrators, describe, why_not_default
from unibind.calibration.fit_defaults import fit_default_calibrator, format_provenance
from unibind.calibration.report import LabelledFiles
from unibind.calibration.store import load_calibrator, write_calibrator
from unibind.space import Space
from unibind_cli.main import cli

LABELS = ["dog", "cat", "truck"]
WORDS = ["small", "red", "loud", "old", "wet", "shiny"]


def _texts(root, labels=LABELS, per_class=8, seed=0):
    """Simulated sentences about their class, every third one naming another class twice (confusing)."""
    rng = random.Random(seed)
    paths, targets = [], []
    root.mkdir(parents=True, exist_ok=True)
    for c, label in enumerate(labels):
        for i in range(per_class):
            other = labels[(c + 1) % len(labels)]
            text = f"a {' '.join(rng.sample(WORDS, 2))} {label}" + (f" near a {other} {other}" if i % 3 == 0 else "")
            path = root / f"{label}-{i}.txt"
            path.write_text(text)
            paths.append(path)
            targets.append(c)
    return LabelledFiles(root.name, "text", paths, targets, list(labels), note=f"simulated {root.name}")


@pytest.fixture
def shipped(registry, tmp_path, monkeypatch):
    """A default text calibrator fitted on simulated sentences, in a folder standing in for the package's."""
    space = Space(registry=registry)
    fitted = fit_default_calibrator(space, _texts(tmp_path / "fit", per_class=10),
                                    [_texts(tmp_path / "other", ["bird", "car", "fish", "tree"], 5, seed=1)],
                                    tmp_path / "work", seed=0, command="test")
    folder = tmp_path / "defaults"
    write_calibrator(folder / "text.safetensors", fitted)
    monkeypatch.setattr(defaults, "DEFAULTS_DIR", folder)
    return fitted


def test_shipped_default_calibrators_load_with_their_provenance_and_fit_the_embedded_default():
    files = sorted(DEFAULTS_DIR.glob("*.safetensors"))
    assert {f.stem for f in files} >= {"image", "audio"}
    space = Space()
    for path in files:
        fitted = load_calibrator(path)
        record, p = fitted.record, fitted.record.provenance
        assert record.name == "temperature" and not record.class_specific and record.labels is None
        assert p["temperature"] == pytest.approx(fitted.calibrator.temperature, rel=1e-5) and p["temperature"] > 1
        assert p["dataset"] and "(real)" in p["dataset"] and p["seed"] == 0
        assert p["calibration_count"] + p["held_out_count"] + p["skipped"] == p["files"]
        assert p["label_set_size"] == len(p["labels"]) >= 2
        held = p["held_out"]
        assert held["count"] == p["held_out_count"] and held["after"]["nll"] < held["before"]["nll"]
        assert p["other_sets"] and all(o["count"] > 0 and "after" in o and "fallback" in o for o in p["other_sets"])
        assert json.loads(path.with_suffix(".json").read_text())["provenance"] == p
        assert why_not_default(space, p["space"], record.modality) is None
        # the domain it was fitted on ships with it (classify marks inputs unlike those files), and its figures
        assert fitted.domain is not None and len(fitted.domain.reference) == p["calibration_count"]
        assert held["domain"]["count"] == held["count"] and 0 <= held["domain"]["inside"] <= held["count"]
        assert all(o["domain"]["count"] == o["count"] for o in p["other_sets"])
        # classify's set test: the held-out half is like the fitting half; the image default's other sets are not
        assert not held["domain"]["set_test"]["unlike"]
        if record.modality == "image":
            assert all(o["domain"]["set_test"]["unlike"] for o in p["other_sets"])
    found, refused = default_calibrators(space)
    assert set(found) >= {"image", "audio"} and not refused
    assert "default calibrator fitted on Tux Paint" in describe(found["image"])


def test_a_default_calibrator_does_not_apply_to_another_space_or_to_knowledge_base_centres(registry):
    space = Space(registry=registry)
    identity = {"encoder": "other-encoder", "text_encoder": "hashing", "logit_scale": space.logit_scale}
    assert "differs" in why_not_default(space, identity, "text")
    mine = defaults.space_identity(space, "text")
    assert why_not_default(space, mine, "text") is None
    assert "knowledge-base centres" in why_not_default(space, mine, "text", centres="centres.safetensors")
    assert "adapter" in why_not_default(Space(registry=registry, adapters={"text": "linear"}), mine, "text")
    assert "differs" in why_not_default(Space(registry=registry, logit_scale=50.0), mine, "text")



def test_the_shipped_calibrators_were_fitted_on_todays_prompt_templates():
    """Fails when a modality's template set changes without refitting its shipped calibrator: the centres are
    the templates' mean, so the temperature was fitted to other scores (scripts/fit_default_calibrators.py)."""
    space = Space()
    for path in sorted(DEFAULTS_DIR.glob("*.safetensors")):
        record = load_calibrator(path).record
        assert record.provenance["space"]["templates"] == defaults.template_fingerprint(space, record.modality), (
            f"{path.name}: refit with scripts/fit_default_calibrators.py --modality {record.modality}")


def test_a_default_calibrator_fitted_on_another_template_set_is_refused_with_that_reason(registry, monkeypatch):
    from unibind.knowledge import templates

    space = Space(registry=registry)
    fitted_with = defaults.space_identity(space, "text")
    assert fitted_with["templates"]["count"] == len(templates.modality_templates("text", registry))
    assert why_not_default(space, fitted_with, "text") is None
    # the same texts in another order make the same mean: still applies
    monkeypatch.setitem(templates.MODALITY_TEMPLATES, "text", tuple(reversed(templates.TEXT_TEMPLATES)))
    assert why_not_default(space, fitted_with, "text") is None
    monkeypatch.setitem(templates.MODALITY_TEMPLATES, "text", (*templates.TEXT_TEMPLATES, "a memo about a {}."))
    why = why_not_default(space, fitted_with, "text")
    assert why is not None and "text prompt templates (41," in why and "fitted with (40," in why
    assert "scripts/fit_default_calibrators.py" in why
    old = {k: v for k, v in fitted_with.items() if k != "templates"}   # a record from before templates were recorded
    monkeypatch.setitem(templates.MODALITY_TEMPLATES, "text", templates.TEXT_TEMPLATES)
    assert "does not record the text prompt-template set" in why_not_default(space, old, "text")


def test_classify_says_the_shipped_calibrator_is_refused_when_the_templates_changed(shipped, tmp_path,
                                                                                     monkeypatch):
    from unibind.knowledge import templates

    monkeypatch.setitem(templates.MODALITY_TEMPLATES, "text", templates.TEXT_TEMPLATES[:-1])
    query = tmp_path / "q.txt"
    query.write_text("a dog")
    out = CliRunner().invoke(cli, ["classify", str(query), "--labels", "dog,cat,truck"])
    assert out.exit_code == 0, out.output
    assert "uncalibrated for text" in out.stderr
    assert "the shipped text calibrator does not apply: the text prompt templates (39," in out.stderr
    assert json.loads(CliRunner().invoke(cli, ["classify", str(query), "--labels", "dog,cat,truck", "--json"])
                      .stdout.splitlines()[0])["calibrated"] is False

def test_fitting_a_default_records_held_out_and_other_set_figures(shipped):
    p = shipped.record.provenance
    assert p["calibration_count"] == 15 and p["held_out_count"] == 15 and p["label_set_size"] == 3
    assert p["other_sets"][0]["label_set_size"] == 4 and p["other_sets"][0]["count"] == 20
    # overconfident softmax of 100 x cos: the fitted temperature softens it and the held-out NLL drops
    assert p["temperature"] > 1 and p["held_out"]["after"]["nll"] < p["held_out"]["before"]["nll"]
    f = p["held_out"]["fallback"]
    assert sum(f["decisions"].values()) == 15 and f["without"]["coverage"] <= f["with"]["coverage"] + 1e-9
    text = format_provenance(shipped.record)
    assert "held-out: n=15" in text and "not fitted on" in text
    # the files it was fitted on bound its domain; how many of each measured set lie inside is recorded
    assert shipped.domain is not None and p["domain"]["count"] == 15
    assert p["held_out"]["domain"]["count"] == 15 and p["other_sets"][0]["domain"]["count"] == 20
    assert "inside the calibrator's domain" in text


def test_classify_without_space_applies_the_default_calibrator_and_runs_the_fallback(shipped, tmp_path):
    query = tmp_path / "q.txt"
    query.write_text("a dog near a cat")
    runner = CliRunner()
    out = runner.invoke(cli, ["classify", str(query), "--labels", "dog,cat,truck,bird", "--json"])
    assert out.exit_code == 0, out.output
    prediction = json.loads(out.stdout.splitlines()[0])
    assert prediction["calibrated"]
    # another label set than the one fitted on: temperature scaling applies to any
    space = Space()
    sims = space.embed_text(["a dog near a cat"]) @ space.class_centres(["dog", "cat", "truck", "bird"], "text").T
    expected = torch.softmax(space.logit_scale * sims / shipped.calibrator.temperature, -1).max()
    assert prediction["top"][0]["probability"] == pytest.approx(float(expected), abs=1e-4)
    assert prediction["fallback"]["threshold"] == 0.6
    below = prediction["fallback"]["original_confidence"] < 0.6
    # a fallback fitted to add nothing at 0.6 rejects what is below it without running its validators
    skipped = defaults.adds_nothing(defaults.fitted_entry(shipped.record, 0.6))
    assert prediction["fallback"]["ran"] == (below and not skipped)
    assert prediction["fallback"]["decision"] in (("rejected",) if below and skipped else
                                                  ("verified", "revised", "rejected") if below else ("accepted",))
    table = runner.invoke(cli, ["classify", str(query), "--labels", "dog,cat,truck"])
    assert "calibrated for text (default calibrator fitted on simulated fit" in table.stderr
    assert "uncalibrated" not in table.stderr


def test_the_fallback_runs_by_default_below_the_threshold_and_no_fallback_stops_it(shipped, tmp_path):
    query = tmp_path / "q.txt"
    query.write_text("a dog near a cat")
    runner = CliRunner()
    args = ["classify", str(query), "--labels", "dog,cat,truck", "--json"]
    ran = json.loads(runner.invoke(cli, args + ["--threshold", "0.999"]).stdout.splitlines()[0])
    assert ran["fallback"]["ran"] and {v["name"] for v in ran["fallback"]["validators"]} >= {"yes-no"}
    off = runner.invoke(cli, args + ["--no-fallback"])
    assert off.exit_code == 0 and json.loads(off.stdout.splitlines()[0])["fallback"] is None
    both = runner.invoke(cli, args + ["--no-fallback", "--threshold", "0.5"])
    assert both.exit_code == 2 and "--no-fallback" in both.output


def test_without_a_calibrator_the_output_says_uncalibrated_and_why_the_fallback_did_not_run(registry, tmp_path,
                                                                                             monkeypatch):
    monkeypatch.setattr(defaults, "DEFAULTS_DIR", tmp_path / "none")
    query = tmp_path / "q.txt"
    query.write_text("a dog near a cat")
    runner = CliRunner()
    out = runner.invoke(cli, ["classify", str(query), "--labels", "dog,cat,truck", "--json", "--threshold", "0.999"])
    assert json.loads(out.stdout.splitlines()[0])["fallback"] is None and "calibrated" not in out.stderr
    table = runner.invoke(cli, ["classify", str(query), "--labels", "dog,cat,truck"])
    assert "probabilities: uncalibrated for text" in table.stderr
    assert "fallback: not run for text" in table.stderr


def test_a_shipped_calibrator_of_another_space_is_named_as_not_applying(shipped, tmp_path, monkeypatch):
    record = shipped.record.model_copy(deep=True)
    record.provenance["space"]["encoder"] = "another-text-encoder"
    write_calibrator(defaults.DEFAULTS_DIR / "text.safetensors", type(shipped)(shipped.calibrator, record))
    query = tmp_path / "q.txt"
    query.write_text("a dog")
    table = CliRunner().invoke(cli, ["classify", str(query), "--labels", "dog,cat,truck"])
    assert "uncalibrated for text" in table.stderr and "shipped text calibrator does not apply" in table.stderr


@pytest.mark.slow
def test_classify_on_a_real_photo_uses_the_shipped_image_calibrator(tmp_path):
    """The embedded default end to end (EfficientNet + ImageNet bridge) on scikit-learn's sample photo."""
    from unibind.datasets import sklearn_photos

    photo = sklearn_photos()["flower.jpg"]
    labels = "flower,building,car,dog"
    runner = CliRunner()
    out = runner.invoke(cli, ["classify", str(photo), "--labels", labels, "--json", "--no-fallback", "--top-k", "4"])
    assert out.exit_code == 0, out.output
    calibrated = json.loads(out.stdout.splitlines()[0])
    assert calibrated["calibrated"]
    raw, _ = Space().classify([photo], labels.split(","), top_k=4)
    temperature = load_calibrator(DEFAULTS_DIR / "image.safetensors").calibrator.temperature
    raw_probs = torch.tensor([s.probability for s in raw[0].top])
    expected = torch.softmax(raw_probs.log() / temperature, -1)   # softmax(z / T) from softmax(z)
    assert [s["probability"] for s in calibrated["top"]] == pytest.approx(expected.tolist(), abs=1e-4)
    said = runner.invoke(cli, ["classify", str(photo), "--labels", labels])
    assert "calibrated for image (default calibrator fitted on Tux Paint" in said.stderr


def test_report_on_the_users_data_measures_the_shipped_default_beside_a_fresh_fit(shipped, tmp_path):
    data = _texts(tmp_path / "mine" / "cat", ["cat"], 6)   # a folder per class: mine/<class>/<file>
    _texts(tmp_path / "mine" / "truck", ["truck"], 6, seed=2)
    out = CliRunner().invoke(cli, ["calibrate", "report", str(data.paths[0].parent.parent), "--modality", "text",
                                   "--out", str(tmp_path / "out"), "--validator", "yes-no"])
    assert out.exit_code == 0, out.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())[0]
    assert report["calibrators"]["shipped"]["temperature"] == pytest.approx(shipped.calibrator.temperature)
    assert f"shipped default temperature: {shipped.calibrator.temperature:.4f}" in out.output
    # whether the user's files are like the ones the shipped calibrator was fitted on
    domain = report["shipped_domain"]
    assert domain["count"] == report["held_out"] and 0 <= domain["inside"] <= domain["count"]
    assert "set_test" not in domain                       # 6 held-out files: too few to test as a set
    assert f"shipped default's domain (" in out.output and f"{domain['inside']} of {domain['count']} held-out" in \
        out.output


def test_a_revised_prediction_prints_its_calibrated_probability_and_says_why_the_runner_up_is_higher(
        shipped, tmp_path, monkeypatch):
    """Validators that disagree and all prefer the runner-up revise the label; the probabilities stay calibrated."""
    from unibind.results import ValidatorRecord
    from unibind.validation.base import Fallback

    class PreferRunnerUp:
        name = "prefers-second"

        def validate(self, case, texts, space):
            second = case.labels[int(case.probs.argsort(descending=True)[1])]
            return ValidatorRecord(name=self.name, verdict="disagree", support=0.1, label=second)

    def revising(space, fitted, threshold, validators=None):
        fallback = Fallback(validators=[PreferRunnerUp()])
        fallback.settings.threshold, fallback.revise, fallback.fitted = threshold, True, True
        return fallback

    monkeypatch.setattr(defaults, "fallback_for", revising)
    query = tmp_path / "q.txt"
    query.write_text("a dog near a cat")
    runner = CliRunner()
    args = ["classify", str(query), "--labels", "dog,cat,truck", "--threshold", "0.999"]
    p = json.loads(runner.invoke(cli, args + ["--json"]).stdout.splitlines()[0])
    assert p["fallback"]["decision"] == "revised" and p["label"] == p["top"][1]["label"]
    first, second = p["top"][0], p["top"][1]
    assert first["probability"] > second["probability"]
    monkeypatch.setenv("COLUMNS", "200")     # rich's table width: one line per row
    out = runner.invoke(cli, args)
    assert out.exit_code == 0, out.output
    row = next(line for line in out.stdout.splitlines() if "q.txt" in line and "revised by" in line)
    cells = [c.strip() for c in row.split("│")]
    label_cell, p_cell, runners_cell = cells[2], cells[3], cells[5]
    assert label_cell.startswith(f"{second['label']} (revised by prefers-second; calibrated top: "
                                 f"{first['label']} {first['probability']:.2f})")
    assert p_cell == f"{second['probability']:.3f}"      # the revised label's calibrated probability
    assert f"{first['label']}\u00a0{first['probability']:.2f}" in runners_cell
    assert second["label"] not in runners_cell           # the printed label is not its own runner-up
    assert (f"q.txt: revised (prefers-second disagree); {first['label']} {first['probability']:.3f} -> "
            f"{second['label']} {second['probability']:.3f} (calibrated)") in out.stdout


def test_a_row_never_prints_a_runner_up_above_its_label_unless_it_says_why():
    from unibind.results import ClassScore, FallbackRecord, Prediction, ValidatorRecord
    from unibind_cli.embed import shown

    top = [ClassScore(label="dog", probability=0.5, similarity=0.3), ClassScore(label="cat", probability=0.3,
                                                                              similarity=0.2)]
    agree = [ValidatorRecord(name="yes-no", verdict="agree", support=0.05)]
    # verified with low support: the fused confidence 0.275 sits below the runner-up; the table prints 0.5
    verified = Prediction(source="a", modality="text", label="dog", confidence=0.275, entropy=1.0, top=top,
                          calibrated=True, fallback=FallbackRecord(threshold=0.6, ran=True, decision="verified",
                                                                   original_label="dog", original_confidence=0.5,
                                                                   validators=agree))
    probability, runners, note = shown(verified)
    assert probability == 0.5 and [s.label for s in runners] == ["cat"] and note == ""
    plain = verified.model_copy(update={"fallback": None, "confidence": 0.5})
    assert shown(plain) == (0.5, [top[1]], "")
    # a rejected prediction's row says it is no answer (with no validator run, no line below the table does)
    rejected = verified.model_copy(update={"fallback": verified.fallback.model_copy(
        update={"decision": "rejected", "ran": False, "validators": []})})
    assert shown(rejected) == (0.5, [top[1]], "rejected: below 0.6, not verified")
