"""A trained space's centres: one set per modality, one source of truth for `eval report` and `classify --space`.

Synthetic ``.vec`` data and the hashing text encoder (no model; named simulated where reported).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
import training_fakes as fakes
from click.testing import CliRunner
from sklearn.metrics import balanced_accuracy_score

from unibind.evaluation.data import folder_sets
from unibind.evaluation.from_space import class_scorers, report_for_spaces
from unibind.knowledge.centres import CentreSet, stale_classes
from unibind.knowledge.records import ClassRef, Description, Provenance
from unibind.knowledge.store import KnowledgeBase
from unibind.space import Space
from unibind.spacedir import read_record, write_record
from unibind.training.pipeline import TrainConfig, train_space
from unibind.training.trainer import TrainSettings
from unibind_cli.main import cli

LABELS = ("bird", "cat", "dog")
WORDS = {"bird": "feathers wings beak nest", "cat": "whiskers purr claws fur", "dog": "bark tail paws leash"}


def _texts(label: str, words: str, n: int = 6) -> list[Description]:
    prov = Provenance(source="manual", settings_hash="simulated")
    return [Description(class_name=label, text=f"a {label} with {words} number {i}", provenance=prov)
            for i in range(n)]


def _data(root, n_per_class=8, seed=0):
    """DATA/<class>/<i>.vec and DATA.jsonl (simulated: training_fakes.write_class_folders)."""
    return fakes.write_class_folders(root, LABELS, n_per_class, seed)


@pytest.fixture
def trained(tmp_path, fake_registry):
    kb_path = tmp_path / "kb.sqlite"
    with KnowledgeBase(kb_path) as kb:
        for label in LABELS:
            kb.add_many(_texts(label, WORDS[label]))
    manifest = _data(tmp_path / "data")
    config = TrainConfig(data=manifest, out=tmp_path / "space", kb=kb_path, centres_k=4,
                         cache_dir=tmp_path / "features", val_fraction=0.0,
                         train=TrainSettings(epochs=4, batch_size=8, lr=0.02, warmup_steps=1), progress=False)
    return train_space(config, registry=fake_registry).space_dir, kb_path


def test_train_writes_one_centre_set_per_modality_made_for_that_modality(trained):
    space_dir, kb_path = trained
    record = read_record(space_dir)
    assert record.modality_centres == {"vec": "centres/vec.safetensors"} and record.centres is None
    saved = CentreSet.load(space_dir / "centres" / "vec.safetensors")
    assert saved.meta.settings.modality == "vec" and saved.labels == list(LABELS)
    assert saved.meta.knowledge_base == str(kb_path) and stale_classes(saved) == []


def _classify_json(space_dir, files, said=None):
    result = CliRunner().invoke(cli, ["classify", "--space", str(space_dir), "--json", *map(str, files)])
    assert result.exit_code == 0, result.output
    if said is not None:
        said.append(result.stderr)
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_eval_report_and_classify_space_agree_after_the_knowledge_base_changed(tmp_path, trained, fake_registry):
    space_dir, kb_path = trained
    # the user rebuilds their knowledge base after training: "dog" is now described in cat words
    with KnowledgeBase(kb_path) as kb, kb.transaction() as db:
        db.execute("DELETE FROM descriptions WHERE class_key IN (SELECT key FROM classes WHERE name = 'dog')")
    with KnowledgeBase(kb_path) as kb:
        kb.add_many(_texts("dog", WORDS["cat"]))
    space = Space.from_dir(space_dir, registry=fake_registry)
    (own,) = [space.centre_set(None, None, "vec")]
    assert stale_classes(own) == ["dog"]
    test_root = tmp_path / "test"
    _data(test_root, n_per_class=6, seed=1)
    sets = folder_sets(test_root, fake_registry)
    classes = [ClassRef(name=n) for n in LABELS]
    truth = [s.classes[int(i)].name for s in sets for i in s.labels]
    files = [p for s in sets for p in s.items]

    # what today's main did: ECL rebuilt from the changed KB scores these files differently
    embedded = space.embed_files(files)
    rebuilt = class_scorers(space, classes, kb_path=kb_path, k=4)["ECL k=4"](embedded.vectors).argmax(1)
    saved = own.score(embedded.vectors).argmax(1)
    assert not torch.equal(rebuilt, saved), "the KB change must matter for this test to mean anything"

    notes = []
    report_for_spaces([("after training", space)], sets, tmp_path / "report", kb_path=kb_path, k=4, draw=False,
                      on_stage=lambda result, n: notes.extend(n))
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    rows = {r["method"]: r for r in report["stages"][0]["accuracy"]}

    said = []
    predictions = _classify_json(space_dir, files, said)
    assert "warning: " in said[0] and "stale for 1 of 3 classes (dog)" in said[0]
    predicted = [p["label"] for p in predictions]
    assert [p["source"] for p in predictions] == list(map(str, files))
    assert predicted == [LABELS[i] for i in saved.tolist()]
    accuracy = float(np.mean([p == t for p, t in zip(predicted, truth)]))
    assert float(np.mean([LABELS[i] == t for i, t in zip(rebuilt.tolist(), truth)])) != pytest.approx(accuracy)
    assert rows["ECL k=4"]["accuracy"] == pytest.approx(accuracy)
    assert rows["ECL k=4"]["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(truth, predicted))
    assert any("stale" in n and "1 of 3 classes (dog)" in n for n in notes)
    assert any("stale" in n for n in report["notes"])


def test_an_older_space_with_one_centres_file_still_loads_and_classifies_alike(tmp_path, trained, fake_registry):
    space_dir, _ = trained
    files = sorted((tmp_path / "data").rglob("*.vec"))[::3]
    before = _classify_json(space_dir, files)
    old = tmp_path / "old-space"
    shutil.copytree(space_dir, old)
    (old / "centres" / "vec.safetensors").rename(old / "centres.safetensors")
    shutil.rmtree(old / "centres")
    record = read_record(old)
    write_record(old, record.model_copy(update={"centres": "centres.safetensors", "modality_centres": {},
                                                     "files": {}}))
    assert "modality_centres" not in json.loads((old / "space.json").read_text()) or \
        json.loads((old / "space.json").read_text())["modality_centres"] == {}
    after = _classify_json(old, files)
    assert [(p["label"], p["confidence"]) for p in after] == [(p["label"], p["confidence"]) for p in before]


def test_classify_gives_each_modality_its_own_centre_set(tmp_path, trained, fake_registry):
    space_dir, _ = trained
    own = CentreSet.load(space_dir / "centres" / "vec.safetensors")
    # another modality's set: the same classes with their centres rotated (bird's are cat's, ...)
    other = CentreSet(own.centres[[1, 2, 0]], own.mask[[1, 2, 0]], own.meta)
    files = sorted((tmp_path / "data").rglob("*.vec"))
    for centres, expect in (({"vec": own, "audio": other}, own), ({"audio": own, "vec": other}, other)):
        space = Space.from_dir(space_dir, registry=fake_registry, centres=centres)
        predictions, _ = space.classify(files)
        embedded = space.embed_files(files)
        assert [p.label for p in predictions] == [LABELS[i] for i in expect.score(embedded.vectors).argmax(1)]
    # a modality with no set of its own uses prompt-template centres (and needs labels)
    space = Space.from_dir(space_dir, registry=fake_registry, centres={"audio": own})
    with pytest.raises(Exception, match="at least two labels"):
        space.classify(files)
    predictions, _ = space.classify(files, list(LABELS))
    assert len(predictions) == len(files)


def test_a_class_described_only_for_another_modality_gets_this_modalitys_templates_and_a_note(tmp_path,
                                                                                             fake_registry):
    kb_path = tmp_path / "kb.sqlite"
    with KnowledgeBase(kb_path) as kb:
        kb.add_many(_texts("bird", WORDS["bird"]) + _texts("cat", WORDS["cat"]))
        kb.add_many([d.model_copy(update={"modality": "image"}) for d in _texts("dog", WORDS["dog"])])
    config = TrainConfig(data=_data(tmp_path / "data"), out=tmp_path / "space", kb=kb_path, centres_k=4,
                         cache_dir=tmp_path / "features", val_fraction=0.0,
                         train=TrainSettings(epochs=1, batch_size=8, warmup_steps=1), progress=False)
    result = train_space(config, registry=fake_registry)
    (note,) = result.notes
    assert note.startswith("vec centres: 1 class(es) (dog) have no vec descriptions in")
    assert "it holds 6 class_description from manual for image, which do not count" in note
    assert note.endswith("each has its vec prompt-template mean as its centre, as without --kb")
    saved = CentreSet.load(result.space_dir / "centres" / "vec.safetensors")
    dog = saved.meta.classes[LABELS.index("dog")]
    assert dog.fallback and [t.source for t in dog.texts] == ["templates"]
    # a class the KB does not describe at all is still an error that says what it holds
    with KnowledgeBase(kb_path) as kb, kb.transaction() as db:
        db.execute("DELETE FROM descriptions WHERE class_key IN (SELECT key FROM classes WHERE name = 'dog')")
    with pytest.raises(Exception, match=r"no class_description texts for 1 class\(es\): dog"):
        train_space(config.model_copy(update={"out": tmp_path / "space2"}), registry=fake_registry)


def test_a_knowledge_base_of_templates_only_trains_on_the_template_means_it_would_use_without_one(
        tmp_path, fake_registry):
    """Templates are the baseline, not descriptions: a templates-only KB must not drop to one bare prompt."""
    from unibind.knowledge.templates import TemplateSource

    source = TemplateSource()
    prov = Provenance(source="templates", settings_hash="simulated")
    kb_path = tmp_path / "kb.sqlite"
    with KnowledgeBase(kb_path) as kb:
        kb.add_many([Description(class_name=label, text=text, provenance=prov, modality="vec")
                     for label in LABELS for text in source.class_descriptions(label, "vec")])
    common = dict(data=_data(tmp_path / "data"), cache_dir=tmp_path / "features", val_fraction=0.0,
                  train=TrainSettings(epochs=1, batch_size=8, warmup_steps=1), progress=False)
    with_kb = train_space(TrainConfig(out=tmp_path / "with", kb=kb_path, **common), registry=fake_registry)
    without = train_space(TrainConfig(out=tmp_path / "without", **common), registry=fake_registry)
    (note,) = with_kb.notes
    assert "from templates for vec, which do not count" in note and "prompt-template mean" in note
    a = CentreSet.load(tmp_path / "with" / "centres" / "vec.safetensors")
    b = CentreSet.load(tmp_path / "without" / "centres" / "vec.safetensors")
    assert torch.allclose(a.centres, b.centres, atol=1e-6)
