"""Calibrated stacking: gamma chosen without unseen data, saved in space.json, applied on every scoring path.

Synthetic ``.vec`` data and the hashing text encoder (no model; simulated).
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch
import training_fakes as fakes
from click.testing import CliRunner

from unibind.evaluation.from_space import saved_centre_scorers
from unibind.space import Space
from unibind.spacedir import read_record, write_record
from unibind.training.pipeline import TrainConfig, train_space
from unibind.training.stacking import choose_gamma, pseudo_unseen, seen_offsets
from unibind.training.trainer import TrainSettings
from unibind_cli.main import cli

LABELS = ("bird", "cat", "dog", "fish")


def _data(root, n_per_class=10, seed=0):
    """DATA/<class>/<i>.vec and DATA.jsonl (simulated: training_fakes.write_class_folders)."""
    return fakes.write_class_folders(root, LABELS, n_per_class, seed)


def _config(tmp_path, **update):
    config = TrainConfig(data=_data(tmp_path / "data"), out=tmp_path / "space", cache_dir=tmp_path / "features",
                         val_fraction=0.3, stacking=True, progress=False,
                         train=TrainSettings(epochs=3, batch_size=8, lr=0.02, warmup_steps=1))
    return config.model_copy(update=update)


@pytest.fixture
def trained(tmp_path, fake_registry):
    return train_space(_config(tmp_path), registry=fake_registry)


def test_choose_gamma_lifts_unseen_classes_that_seen_ones_crowd_out():
    # 2 seen classes (0, 1), 1 unseen (2); every unseen item scores 0.1 lower on its class than a seen one
    sims = torch.tensor([[0.9, 0.1, 0.0], [0.1, 0.9, 0.0], [0.6, 0.0, 0.5], [0.0, 0.7, 0.55]])
    truth = torch.tensor([0, 1, 2, 2])
    choice = choose_gamma(sims, truth, torch.tensor([True, True, False]))
    assert choice.h_before == 0 and choice.unseen_before == 0
    assert 0.15 < choice.gamma < 0.8 and choice.h_after == pytest.approx(1.0)
    # a seen-accuracy budget: here gamma costs no seen accuracy up to 0.8, so the same unseen gain is allowed
    assert choose_gamma(sims, truth, torch.tensor([True, True, False]), 0.0).unseen_after == 1.0
    # where every gain costs seen accuracy, a budget of 0 keeps gamma at 0
    costly = torch.tensor([[0.6, 0.1, 0.55], [0.1, 0.9, 0.0], [0.6, 0.0, 0.5]])
    capped = choose_gamma(costly, torch.tensor([0, 1, 2]), torch.tensor([True, True, False]), 0.0)
    assert capped.gamma == 0.0 and choose_gamma(costly, torch.tensor([0, 1, 2]),
                                                torch.tensor([True, True, False])).gamma > 0
    # no bias toward the seen classes: the smallest gamma, none
    fair = torch.tensor([[0.9, 0.1, 0.0], [0.1, 0.9, 0.0], [0.0, 0.1, 0.5]])
    assert choose_gamma(fair, torch.tensor([0, 1, 2]), torch.tensor([True, True, False])).gamma == 0.0


def test_offsets_fall_only_on_seen_classes_whatever_their_case():
    assert seen_offsets(["Bird", "whale", "cat "], ["bird", "cat"], 0.25).tolist() == [0.25, 0.0, 0.25]
    assert pseudo_unseen(["a", "b"], 0) == [] and len(pseudo_unseen(list("abcdefghij"), 3)) == 3


def test_train_records_gamma_and_the_seen_classes_in_space_json(trained, fake_registry):
    (stacking,) = trained.stacking.values()
    record = read_record(trained.space_dir)
    assert set(record.stacking) == {"vec"} and record.stacking["vec"] == stacking
    assert stacking.seen == list(LABELS) and stacking.gamma >= 0
    fitted = stacking.fitted
    assert fitted["pseudo_unseen"] == pseudo_unseen(list(LABELS), 0) and fitted["unseen_items"] == 10
    assert fitted["seen_items"] == 3 * 2  # a fifth of each pseudo-seen class's 10 items
    assert fitted["h_after"] >= fitted["h_before"] and set(fitted["gammas"]) == {"H", "seen loss <= 0.05"}
    assert fitted["gammas"]["seen loss <= 0.05"] == stacking.gamma      # the default budget
    assert "--stacking" in record.made_from["command"]


def test_the_trained_adapter_is_the_same_with_or_without_stacking(tmp_path, trained, fake_registry):
    plain = train_space(_config(tmp_path, stacking=False, out=tmp_path / "plain"), registry=fake_registry)
    assert plain.stacking == {} and read_record(plain.space_dir).stacking == {}
    for name, value in plain.fit.adapters["vec"].state_dict().items():
        assert torch.equal(value, trained.fit.adapters["vec"].state_dict()[name]), name


def _with_gamma(space_dir, seen, gamma):
    record = read_record(space_dir)
    fitted = record.stacking["vec"].model_copy(update={"seen": seen, "gamma": gamma})
    write_record(space_dir, record.model_copy(update={"stacking": {"vec": fitted}}))


def _classify(space_dir, files, *extra):
    result = CliRunner().invoke(cli, ["classify", "--space", str(space_dir), "--json", "--top-k", "4",
                                      *extra, *map(str, files)])
    assert result.exit_code == 0, result.output
    return [{c["label"]: c["similarity"] for c in json.loads(line)["top"]} for line in result.stdout.splitlines()]


def test_classify_subtracts_gamma_from_seen_classes_only_and_no_stacking_turns_it_off(tmp_path, trained):
    space_dir = trained.space_dir
    _with_gamma(space_dir, ["bird", "Cat"], 0.5)  # dog and fish play the unseen classes
    files = sorted((tmp_path / "data").rglob("*.vec"))[::7]
    stacked, raw = _classify(space_dir, files), _classify(space_dir, files, "--no-stacking")
    for s, r in zip(stacked, raw):
        for label in LABELS:
            assert s[label] == pytest.approx(r[label] - (0.5 if label in ("bird", "cat") else 0.0), abs=1e-5)


def test_eval_report_scores_through_the_same_offsets(tmp_path, trained, fake_registry):
    _with_gamma(trained.space_dir, ["dog"], 0.3)
    space = Space.from_dir(trained.space_dir, registry=fake_registry)
    vectors = space.embed_files(sorted((tmp_path / "data").rglob("*.vec"))).vectors

    def scores():
        (by_modality,) = saved_centre_scorers(space, list(LABELS), ["vec"])[0].values()
        return by_modality["vec"](vectors)

    stacked = scores()
    space.stacking = False
    assert torch.allclose(stacked, scores() - torch.tensor([0.0, 0.0, 0.3, 0.0]), atol=1e-6)


def test_an_older_space_without_stacking_loads_and_scores_raw(tmp_path, trained, fake_registry):
    old = tmp_path / "old"
    shutil.copytree(trained.space_dir, old)
    text = json.loads((old / "space.json").read_text())
    del text["stacking"]
    (old / "space.json").write_text(json.dumps(text))
    space = Space.from_dir(old, registry=fake_registry)
    assert space.record.stacking == {} and space.seen_offsets(list(LABELS), "vec") is None
    assert space.centre_set(None, None, "vec").offsets is None


def test_without_validation_the_second_run_holds_out_its_own_items(tmp_path, fake_registry):
    result = train_space(_config(tmp_path, val_fraction=0.0), registry=fake_registry)
    assert result.stacking["vec"].fitted["epochs"] == 3 and result.stacking["vec"].fitted["seen_items"] == 6


def test_too_few_classes_train_without_stacking_and_say_why(tmp_path, fake_registry):
    config = _config(tmp_path)
    two = [line for line in config.data.read_text().splitlines() if '"bird"' in line or '"cat"' in line]
    config.data.write_text("\n".join(two) + "\n")
    result = train_space(config, registry=fake_registry)
    assert result.stacking == {} and any("no calibrated stacking" in n and "at least 3" in n for n in result.notes)


def test_a_seen_loss_budget_is_the_criterion_when_given(tmp_path, fake_registry):
    result = train_space(_config(tmp_path, stacking_max_seen_loss=0.0), registry=fake_registry)
    fitted = result.stacking["vec"].fitted
    assert fitted["criterion"] == "seen loss <= 0" and fitted["seen_after"] >= fitted["seen_before"]
    assert "--stacking-max-seen-loss 0.0" in read_record(result.space_dir).made_from["command"]


def test_train_stacking_says_gamma_and_records_it_in_json(tmp_path, fake_registry):
    args = ["train", "--data", str(_config(tmp_path).data), "--epochs", "2", "--batch-size", "8",
            "--cache-dir", str(tmp_path / "cache"), "--threads", "1", "--val-fraction", "0.3", "--stacking"]
    text = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "a")])
    assert text.exit_code == 0, text.output
    assert "calibrated stacking (vec): gamma" in text.stdout and "classify --no-stacking ignores it" in text.stdout
    as_json = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "b"), "--json"])
    summary = json.loads(as_json.stdout)
    assert summary["stacking"]["vec"]["seen"] == list(LABELS)
    assert summary["stacking"]["vec"]["gamma"] == read_record(tmp_path / "b").stacking["vec"].gamma
    off = CliRunner().invoke(cli, [*args[:-1], "--no-stacking", "--out", str(tmp_path / "c"), "--json"])
    assert json.loads(off.stdout)["stacking"] == {} and read_record(tmp_path / "c").stacking == {}
