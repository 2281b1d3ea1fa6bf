"""Multi-label classification from the command line: fit per-class calibration into a space, classify with it.

Simulated data: ``.vec`` files whose features are the sum of two class prototypes (a "composite" of two
classes), next to single-class files; the space is trained on single-class files only.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import training_fakes as fakes
from click.testing import CliRunner
from test_space_centres import LABELS, trained  # noqa: F401 - the trained space fixture

from unibind.calibration.multilabel_store import MultiLabelCalibrator, load_multilabel, save_multilabel
from unibind.space import Space
from unibind_cli.main import cli

PAIRS = [("bird", "cat"), ("cat", "dog"), ("bird", "dog")]


def _protos():
    return np.random.default_rng(0).standard_normal((3, fakes.DIM_IN))   # the prototypes test_space_centres trains on


def composites(root, n=6, seed=2):
    """A JSONL manifest of simulated files: n per class pair (sum of the two prototypes) and n per single class."""
    gen, protos = np.random.default_rng(seed), _protos()
    lines = []
    for combo in [*PAIRS, *[(c,) for c in LABELS]]:
        for i in range(n):
            x = sum(protos[LABELS.index(c)] for c in combo) + 0.4 * gen.standard_normal(fakes.DIM_IN)
            path = fakes.write_vec(root / f"{'+'.join(combo)}-{i}.vec", x)
            lines.append(json.dumps({"path": path.name, "labels": list(combo)}))
    manifest = root / "labels.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def _run(*args):
    return CliRunner().invoke(cli, list(map(str, args)))


@pytest.fixture
def fitted(tmp_path, trained):  # noqa: F811
    space_dir, _ = trained
    result = _run("calibrate", "fit-multi-label", composites(tmp_path / "held-out"), "--space", space_dir,
                  "--modality", "vec")
    assert result.exit_code == 0, result.output
    return space_dir, result


def test_fit_saves_per_class_temperatures_and_thresholds_in_the_space_and_prints_them(fitted):
    space_dir, result = fitted
    saved = load_multilabel(space_dir / "multilabel" / "vec.safetensors")
    assert saved.record.labels == list(LABELS) and saved.record.fitted_on == 36
    assert saved.record.positives == {"bird": 18, "cat": 18, "dog": 18}
    assert json.loads((space_dir / "multilabel" / "vec.json").read_text())["labels"] == list(LABELS)
    for label, t, threshold in zip(LABELS, saved.scaler.temperature.tolist(), saved.thresholds.tolist()):
        assert f"{label:<4}  T {t:.4f}" in result.stdout and f"threshold {threshold:.3f}" in result.stdout
    assert "micro F1" in result.stdout and "ECE" in result.stdout
    assert "domain: the 36 files' embeddings (k = 5)" in result.stdout
    # the per-class parameters differ between classes, and a reload scores exactly alike
    assert len(set(saved.scaler.bias.tolist())) == 3
    again = load_multilabel(save_multilabel(space_dir / "copy", saved))
    scores = torch.rand(4, 3)
    assert torch.equal(again.probabilities(scores, LABELS)[0], saved.probabilities(scores, LABELS)[0])
    # a subset in another order picks its classes' own parameters
    sub, thresholds = saved.probabilities(scores[:, [2, 0]], ["dog", "bird"])
    assert torch.allclose(sub, saved.probabilities(scores, LABELS)[0][:, [2, 0]])
    assert thresholds.tolist() == saved.thresholds[[2, 0]].tolist()


def test_classify_multi_label_returns_both_classes_of_composites(tmp_path, fitted):
    space_dir, _ = fitted
    manifest = composites(tmp_path / "test", n=5, seed=7)
    truth = {str(manifest.parent / json.loads(line)["path"]): set(json.loads(line)["labels"])
             for line in manifest.read_text().splitlines()}
    result = _run("classify", "--space", space_dir, "--multi-label", "--json", *truth)
    assert result.exit_code == 0, result.output
    predicted = {p["source"]: p for p in map(json.loads, result.stdout.splitlines())}
    assert set(predicted) == set(truth)
    for p in predicted.values():
        probs = [d["probability"] for d in p["labels"]]
        assert probs == sorted(probs, reverse=True)
        assert all(d["probability"] >= d["threshold"] for d in p["labels"])
        # every class at or above its threshold is returned, or rejected by the fallback (on by default)
        assert all(d["probability"] < d["threshold"] for d in p["top"] if d["label"] not in
                   {x["label"] for x in p["labels"] + p["rejected"]})
    pairs = [s for s, held in truth.items() if len(held) == 2]
    # one label per file (single-label) finds at most half of the pairs' classes; multi-label finds more
    found = sum(len(truth[s] & {d["label"] for d in predicted[s]["labels"]}) for s in pairs)
    assert found / (2 * len(pairs)) > 0.5
    plain = _run("classify", "--space", space_dir, "--multi-label", *list(truth)[:2])
    assert plain.exit_code == 0 and "calibrated per class" in plain.stderr
    first = predicted[list(truth)[0]]["labels"]
    expected = ", ".join(f"{d['label']} {d['probability']:.2f}" for d in first) or "no class above its threshold"
    mark = " *" if predicted[list(truth)[0]]["calibration_domain"] is False else ""   # 2 files: no set test
    assert plain.stdout.splitlines()[0] == f"{list(truth)[0].rsplit('/', 1)[1]}{mark}: {expected}"


def test_multi_label_calibrator_keeps_its_domain_and_classify_marks_files_unlike_it(tmp_path, fitted):
    space_dir, _ = fitted
    saved = load_multilabel(space_dir / "multilabel" / "vec.safetensors")
    assert saved.domain is not None and len(saved.domain.reference) == 36 and saved.record.domain["count"] == 36
    alike = composites(tmp_path / "alike", n=5, seed=11)                # 30 files from the same recipe
    files = [alike.parent / json.loads(line)["path"] for line in alike.read_text().splitlines()]
    result = _run("classify", "--space", space_dir, "--multi-label", "--json", *files)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(r["calibration_domain"] is not None for r in rows) and sum(r["calibration_domain"] for r in rows) >= 24
    assert not rows[0]["calibration_set"]["unlike"] and rows[0]["calibration_set"]["files"] == 30
    rng = np.random.default_rng(5)                                     # another domain: 20x the scale, no class
    far = [fakes.write_vec(tmp_path / "far" / f"{i}.vec", 20 * rng.standard_normal(fakes.DIM_IN)) for i in range(25)]
    table = _run("classify", "--space", space_dir, "--multi-label", *far)
    assert table.exit_code == 0, table.output
    heads = [line for line in table.stdout.splitlines() if not line.startswith(" ")]   # not the rejected lines
    assert len(heads) == 25 and all(line.split(":")[0].endswith(" *") for line in heads), table.output
    assert "calibration: these 25 vec files, taken together, are unlike the files" in table.stderr


def test_no_class_above_its_threshold_is_said(tmp_path, fitted):
    space_dir, _ = fitted
    saved = load_multilabel(space_dir / "multilabel" / "vec.safetensors")
    saved.thresholds = torch.full((3,), 1.01)    # nothing can reach it
    save_multilabel(space_dir, saved)
    file = sorted((tmp_path / "held-out").glob("*.vec"))[0]
    result = _run("classify", "--space", space_dir, "--multi-label", file)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{file.name}: no class above its threshold"


def test_without_a_fitted_calibrator_one_error_line_says_how_to_fit_one(tmp_path, trained):  # noqa: F811
    space_dir, _ = trained
    file = sorted((tmp_path / "data").rglob("*.vec"))[0]
    result = _run("classify", "--space", space_dir, "--multi-label", file)
    assert result.exit_code != 0
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: --multi-label: no multi-label calibrator for vec")
    assert f"unibind calibrate fit-multi-label DATA --space {space_dir} --modality vec" in line


def test_explain_and_the_fallback_work_on_multi_label(tmp_path, fitted, fake_registry):
    space_dir, _ = fitted
    files = sorted((tmp_path / "held-out").glob("bird+cat-*.vec"))[:3]
    result = _run("classify", "--space", space_dir, "--multi-label", "--json", "--explain", "--threshold", "0.9999",
                  *files)
    assert result.exit_code == 0, result.output
    for p in map(json.loads, result.stdout.splitlines()):
        assert p["explanation"]["top"] and all(m["description"] for m in p["explanation"]["top"])
        reviewed = p["labels"] + p["rejected"]
        assert reviewed and all(d["fallback"]["ran"] for d in reviewed)   # every class above threshold re-checked
        assert all(d["fallback"]["decision"] in ("accepted", "verified") for d in p["labels"])
        assert all(d["fallback"]["decision"] in ("rejected", "revised") for d in p["rejected"])
    # the library path: Space.classify(multi_label=True) with a calibrator given directly
    space = Space.from_dir(space_dir, registry=fake_registry)
    calibrator = load_multilabel(space_dir / "multilabel" / "vec.safetensors")
    assert isinstance(calibrator, MultiLabelCalibrator)
    predictions, failures = space.classify(files, ["dog", "bird"], multi_label=True, calibrator={"vec": calibrator})
    assert not failures and all({d.label for d in p.top} <= {"dog", "bird"} for p in predictions)


def test_held_out_data_from_folders_and_manifests(tmp_path):
    from unibind.errors import InputError
    from unibind.multilabel import read_multilabel_data

    both = fakes.write_vec(tmp_path / "folders" / "bird" / "x.vec", [1.0] * fakes.DIM_IN)
    (tmp_path / "folders" / "cat").mkdir()
    (tmp_path / "folders" / "cat" / "same-bytes.vec").write_bytes(both.read_bytes())   # x.vec holds bird and cat
    fakes.write_vec(tmp_path / "folders" / "cat" / "y.vec", [2.0] * fakes.DIM_IN)
    found = read_multilabel_data(tmp_path / "folders", (".vec",))
    assert found.labels == ["bird", "cat"] and [p.name for p in found.paths] == ["x.vec", "y.vec"]
    assert found.targets.tolist() == [[1.0, 1.0], [0.0, 1.0]]

    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join([json.dumps({"path": "folders/bird/x.vec", "labels": ["bird", "cat"]}),
                                   json.dumps({"path": "folders/cat/y.vec", "labels": ["cat"]}),
                                   json.dumps({"path": "missing.vec", "labels": ["cat"]}),
                                   json.dumps({"path": "folders/cat/y.vec", "labels": "cat"}), "not json"]) + "\n")
    found = read_multilabel_data(manifest, (".vec",), ["cat", "bird"])
    assert found.labels == ["cat", "bird"] and found.targets.tolist() == [[1.0, 1.0], [1.0, 0.0]]
    assert [f.source.rsplit(":", 1)[1] for f in found.failures] == ["3", "4", "5"]
    with pytest.raises(InputError, match="classes bird are not among --labels"):
        read_multilabel_data(manifest, (".vec",), ["cat", "dog"])
