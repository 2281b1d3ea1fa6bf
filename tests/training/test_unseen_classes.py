"""Classes a trained space never saved centres for: `classify --space` and `eval report --space` build them now.

The saved centres stay the one source of truth for the classes they hold; a new class is built by the
space's own recipe (its KB when given, else its modality's prompt templates), never written into the
space folder. Synthetic ``.vec`` data and the hashing text encoder (no model; simulated).
"""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
import torch
import training_fakes as fakes
from click.testing import CliRunner

from unibind.calibration.store import CalibratorRecord, FittedCalibrator, save_calibrator
from unibind.calibration.temperature import TemperatureScaler, TemperatureSettings
from unibind.centring import centre_rows
from unibind.evaluation.data import folder_sets
from unibind.evaluation.from_space import report_for_spaces
from unibind.knowledge.centres import CentreSet, CentreSettings, localize
from unibind.knowledge.records import ClassRef, Description, Provenance
from unibind.knowledge.store import KnowledgeBase
from unibind.space import Space
from unibind.training.pipeline import TrainConfig, train_space
from unibind.training.trainer import TrainSettings
from unibind_cli.main import cli

LABELS = ("bird", "cat", "dog")
WORDS = {"bird": "feathers wings beak nest", "cat": "whiskers purr claws fur", "dog": "bark tail paws leash",
         "zebra": "stripes hooves savanna mane"}


def _texts(label: str, n: int = 6) -> list[Description]:
    prov = Provenance(source="manual", settings_hash="simulated")
    return [Description(class_name=label, text=f"a {label} with {WORDS[label]} number {i}", provenance=prov)
            for i in range(n)]


@pytest.fixture
def trained(tmp_path, fake_registry):
    """A space trained on bird/cat/dog with ECL k=4 centres from a KB that also describes zebra."""
    kb_path = tmp_path / "kb.sqlite"
    with KnowledgeBase(kb_path) as kb:
        for label in WORDS:
            kb.add_many(_texts(label))
    manifest = fakes.write_class_folders(tmp_path / "data", LABELS, 8, 0)
    config = TrainConfig(data=manifest, out=tmp_path / "space", kb=kb_path, centres_k=4,
                         cache_dir=tmp_path / "features", val_fraction=0.0,
                         train=TrainSettings(epochs=2, batch_size=8, lr=0.02, warmup_steps=1), progress=False)
    return train_space(config, registry=fake_registry).space_dir, kb_path


def _tree(folder):
    """Every file under ``folder`` and its bytes' digest: a read-only command leaves this unchanged."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_classify_space_scores_a_seen_and_a_new_label_and_leaves_the_folder_as_it_was(tmp_path, trained,
                                                                                        fake_registry):
    space_dir, kb_path = trained
    before, kb_before = _tree(space_dir), hashlib.sha256(kb_path.read_bytes()).hexdigest()
    file = tmp_path / "data" / "bird" / "0.vec"
    result = _run("classify", "--space", space_dir, "--labels", "bird,zebra", "--json", file)
    assert result.exit_code == 0, result.output
    (prediction,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert {s["label"] for s in prediction["top"]} == {"bird", "zebra"}
    assert "vec classes built now (not among the space's saved centres): zebra, from the mean of its vec prompt " \
           "templates: the saved centres came from the knowledge base" in result.stderr
    assert "which was not given (give it with --kb" in result.stderr
    assert _tree(space_dir) == before and hashlib.sha256(kb_path.read_bytes()).hexdigest() == kb_before

    # the seen class scores by its saved centres (unchanged); the new one by its template mean, as printed
    space = Space.from_dir(space_dir, registry=fake_registry)
    both = space.centre_set(None, ["bird", "zebra"], "vec")
    saved = CentreSet.load(space_dir / "centres" / "vec.safetensors").select(["bird"])
    assert torch.equal(both.centres[0][both.mask[0]], saved.centres[0][saved.mask[0]])
    zebra = localize([ClassRef(name="zebra")], space.text_embedder(), CentreSettings(method="templates",
                                                                                      modality="vec"))
    assert both.counts == [4, 1] and torch.allclose(both.centres[1, 0], zebra.centres[0, 0], atol=1e-6)
    scores = both.score(space.embed_files([file]).vectors)[0]
    shown = {s["label"]: s["similarity"] for s in prediction["top"]}
    assert shown["bird"] == pytest.approx(float(scores[0]), abs=1e-5)
    assert shown["zebra"] == pytest.approx(float(scores[1]), abs=1e-5)
    # only the saved classes: nothing is built and nothing is said
    seen = _run("classify", "--space", space_dir, "--labels", "bird,cat", file)
    assert seen.exit_code == 0 and "built now" not in seen.stderr


def test_a_new_label_is_built_from_the_knowledge_base_when_given_and_says_so(tmp_path, trained, fake_registry):
    space_dir, kb_path = trained
    before, kb_before = _tree(space_dir), hashlib.sha256(kb_path.read_bytes()).hexdigest()
    file = tmp_path / "data" / "cat" / "1.vec"
    result = _run("classify", "--space", space_dir, "--kb", kb_path, "--labels", "cat,zebra,unicorn", file)
    assert result.exit_code == 0, result.output
    assert f"zebra, unicorn, from ECL k=4 of their descriptions in {kb_path}" in result.stderr
    assert "unicorn: no vec descriptions there, so the mean of its vec prompt templates" in result.stderr
    assert _tree(space_dir) == before and hashlib.sha256(kb_path.read_bytes()).hexdigest() == kb_before
    space = Space.from_dir(space_dir, registry=fake_registry)
    space.kb = kb_path
    made = space.centre_set(None, ["zebra", "cat"], "vec")
    assert made.labels == ["zebra", "cat"] and made.counts == [4, 4]
    assert all("stripes" in t.text and t.source == "manual" for t in made.meta.classes[0].texts)


def test_new_centres_are_centred_like_the_saved_ones(trained, fake_registry):
    """A space trained with --centre-modalities centres its text side: new centres are embedded before
    centring (as the saved ones were) and centred by the same step."""
    space_dir, _ = trained
    plain = Space.from_dir(space_dir, registry=fake_registry)
    mean = torch.full((plain.dim,), 0.05)
    centred = Space.from_dir(space_dir, registry=fake_registry)
    centred.modality_means = {"text": mean}
    made = centred.centre_set(None, ["dog", "zebra"], "vec")
    expect = plain.centre_set(None, ["dog", "zebra"], "vec")
    assert torch.allclose(made.centres, centre_rows(expect.centres, mean), atol=1e-5)


def test_a_temperature_still_applies_to_new_classes_a_per_class_calibrator_does_not(tmp_path, trained,
                                                                                       fake_registry):
    space_dir, _ = trained
    files = sorted((tmp_path / "data").rglob("*.vec"))[:4]
    space = Space.from_dir(space_dir, registry=fake_registry)
    hot = FittedCalibrator(TemperatureScaler(TemperatureSettings(temperature=20.0)),
                           CalibratorRecord(name="temperature", modality="vec"))
    found, _ = space.classify(files, ["bird", "zebra"], calibrator={"vec": hot})
    assert all(p.calibrated for p in found)
    assert not any("not applied" in h for h in space.built_classes["vec"].hints)

    from unibind.calibration.vector import VectorScaler

    logits = torch.eye(3)[torch.arange(60) % 3] + 2 * torch.randn(60, 3, generator=torch.Generator().manual_seed(0))
    vector = FittedCalibrator(VectorScaler().fit(logits, torch.arange(60) % 3), CalibratorRecord(
        name="vector", modality="vec", labels=list(LABELS), class_specific=True))
    found, _ = space.classify(files, list(LABELS), calibrator={"vec": vector})
    assert all(p.calibrated for p in found)  # its own classes: applied as before
    found, _ = space.classify(files, ["bird", "zebra"], calibrator={"vec": vector})
    assert not any(p.calibrated for p in found)
    # from the command line: said on stderr, not an error
    copy = tmp_path / "space-with-vector"
    shutil.copytree(space_dir, copy)
    save_calibrator(copy, vector)
    result = _run("classify", "--space", copy, "--labels", "bird,zebra", files[0])
    assert result.exit_code == 0, result.output
    assert "the space's vector calibrator has parameters per class it was fitted on, so it is not applied: " \
           "vec probabilities are uncalibrated" in result.stderr
    assert "probabilities: uncalibrated for vec" in result.stderr


def test_mistakes_with_new_labels_end_in_one_error_line(tmp_path, trained):
    space_dir, kb_path = trained
    file = tmp_path / "data" / "bird" / "0.vec"
    before = _tree(space_dir)
    cases = [
        (["--space", space_dir, "--labels", "bird,"], "empty label"),
        (["--space", space_dir, "--labels", "zebra,Zebra"], "duplicate label(s) Zebra"),
        (["--space", space_dir, "--labels", "bird,?!"], "label(s) '?!' have no letter or digit"),
        (["--space", space_dir, "--labels", "bird,zebra", "--multi-label"], "no fitted threshold for 'zebra'"),
        (["--labels", "bird,zebra", "--kb", kb_path], "--kb builds the --labels a --space has no saved"),
        (["--space", space_dir, "--labels", "bird,zebra", "--kb", tmp_path / "none.sqlite"], "does not exist"),
    ]
    bad = tmp_path / "bad.sqlite"
    bad.write_text("not a database")
    cases.append((["--space", space_dir, "--labels", "bird,zebra", "--kb", bad], "not a knowledge base"))
    for args, said in cases:
        result = _run("classify", *args, file)
        assert result.exit_code != 0, args
        errors = [line for line in result.output.splitlines() if line.startswith("Error")]
        assert len(errors) == 1 and said in errors[0], result.output
        assert "Traceback" not in result.output
    assert _tree(space_dir) == before


def test_eval_report_scores_new_classes_as_classify_space_does(tmp_path, trained, fake_registry):
    space_dir, _ = trained
    test_root = tmp_path / "test"
    fakes.write_class_folders(test_root, ("bird", "zebra"), 5, seed=3)
    sets = folder_sets(test_root, fake_registry)
    files = [p for s in sets for p in s.items]
    truth = [s.classes[int(i)].name for s in sets for i in s.labels]
    before = _tree(space_dir)
    notes = []
    space = Space.from_dir(space_dir, registry=fake_registry)
    report_for_spaces([("after", space)], sets, tmp_path / "report", k=4, draw=False,
                      on_stage=lambda result, n: notes.extend(n))
    (stage,) = json.loads((tmp_path / "report" / "report.json").read_text())["stages"]
    assert stage["title"] == "after"  # not the last method's name (a loop variable once shadowed the title)
    rows = {r["method"]: r for r in stage["accuracy"]}
    assert any(n.startswith("after: vec classes built now (not among the space's saved centres): zebra") for n in notes)
    assert not any("stale" in n for n in notes)
    result = _run("classify", "--space", space_dir, "--labels", "bird,zebra", "--json", *files)
    assert result.exit_code == 0, result.output
    predicted = [json.loads(line)["label"] for line in result.stdout.splitlines()]
    accuracy = sum(p == t for p, t in zip(predicted, truth)) / len(truth)
    assert rows["ECL k=4"]["accuracy"] == pytest.approx(accuracy)
    assert _tree(space_dir) == before


def test_eval_report_baselines_use_each_sets_own_modality_templates(tmp_path, trained, fake_registry):
    """An audio (here: vec) set's template-mean and class-name rows come from its own modality's templates
    and canonical prompt, not the image ones ("a photo of a ...")."""
    from unibind.evaluation.from_space import stage_from_space

    space_dir, _ = trained
    fakes.write_class_folders(tmp_path / "test", LABELS, 3, seed=4)
    sets = folder_sets(tmp_path / "test", fake_registry)
    space = Space.from_dir(space_dir, registry=fake_registry)
    stage, _skipped, _notes = stage_from_space(space, sets, "after")
    embedder = space.text_embedder()
    refs = [ClassRef(name=label) for label in stage.class_names]
    queries = torch.nn.functional.normalize(torch.randn(5, space.dim, generator=torch.Generator().manual_seed(1)),
                                            dim=-1)
    for title, method in (("template mean", "templates"), ("class name", "name")):
        own = localize(refs, embedder, CentreSettings(method=method, modality="vec")).score(queries)
        image = localize(refs, embedder, CentreSettings(method=method, modality="image")).score(queries)
        got = stage.scorers[title]["vec"](queries)
        assert torch.allclose(got, own, atol=1e-6)
        if method == "templates":
            assert not torch.allclose(got, image, atol=1e-4)  # the two template sets differ: the check means something


def test_calibrate_report_on_a_new_class_says_it_was_built_now(tmp_path, trained):
    space_dir, _ = trained
    data = tmp_path / "held"
    fakes.write_class_folders(data, ("bird", "zebra"), 6, seed=5)
    before = _tree(space_dir)
    result = _run("calibrate", "report", data, "--modality", "vec", "--space", space_dir, "--out", tmp_path / "cal")
    assert result.exit_code == 0, result.output
    assert "note: vec classes built now (not among the space's saved centres): zebra" in result.stderr
    assert _tree(space_dir) == before


def test_eval_report_builds_new_classes_from_the_kb_only_when_the_user_names_it(tmp_path, trained, monkeypatch):
    space_dir, kb_path = trained
    fakes.write_class_folders(tmp_path / "test", ("bird", "zebra"), 4, seed=6)
    common = ["eval", "report", "--data", tmp_path / "test", "--space", space_dir, "--no-default", "--k", "4"]
    named = _run(*common, "--kb", kb_path, "--out", tmp_path / "named")
    assert named.exit_code == 0, named.output
    assert f"zebra, from ECL k=4 of their descriptions in {kb_path}" in named.stderr
    monkeypatch.chdir(tmp_path)  # its default --kb (eval-kb.sqlite, built here with --source) is not the space's
    unnamed = _run(*common, "--source", "templates", "--out", tmp_path / "unnamed")
    assert unnamed.exit_code == 0, unnamed.output
    assert "zebra, from the mean of its vec prompt templates: the saved centres came from the knowledge base" \
        in unnamed.stderr


def test_a_new_label_close_to_a_saved_one_is_built_and_the_likely_typo_is_said(tmp_path, trained):
    space_dir, _ = trained
    result = _run("classify", "--space", space_dir, "--labels", "birds,cat", tmp_path / "data" / "cat" / "0.vec")
    assert result.exit_code == 0, result.output
    assert "birds, from the mean of its vec prompt templates" in result.stderr
    assert "'birds' is not a saved class: did you mean bird?" in result.stderr


def test_calibrated_stacking_lowers_the_trained_classes_only_never_a_class_built_now(trained, fake_registry):
    from unibind.spacedir import StackingRecord

    space_dir, _ = trained
    space = Space.from_dir(space_dir, registry=fake_registry)
    space.record.stacking["vec"] = StackingRecord(seen=list(LABELS), gamma=0.25)
    made = space.centre_set(None, ["zebra", "bird"], "vec")
    assert made.offsets.tolist() == [0.0, 0.25]
