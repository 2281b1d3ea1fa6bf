"""A stage of synthetic embeddings (made up here, named as such): metrics, pictures and the HTML report."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from unibind.evaluation.report import Report, stage_slug, write_report
from unibind.evaluation.stage import EmbeddedSet, Stage, draw_stage, evaluate_stage

CLASSES = ["cat", "dog", "owl"]


def _synthetic_stage() -> Stage:
    """Class directions e0, e1, e2; images sit on them, sounds sit on them shifted along e3 (a modality gap)."""
    eye = torch.eye(6)
    images = F.normalize(eye[[0, 1, 2, 0, 1, 2]] + 0.1 * eye[4], dim=-1)
    sounds = F.normalize(eye[[0, 1, 2, 0, 1, 2]] + 1.5 * eye[3], dim=-1)
    labels = [CLASSES[i] for i in (0, 1, 2, 0, 1, 2)]
    names = [f"s{i}" for i in range(6)]
    centres = eye[:3]
    return Stage("synthetic", [
        EmbeddedSet("image", images, labels, names, items=None, pair_ids=list(range(6))),
        EmbeddedSet("audio", sounds, labels, names, items=None, pair_ids=list(range(6))),
    ], CLASSES, {"prompt": lambda x: x @ centres.T}, prompts=centres)


def test_evaluate_stage_metrics():
    result = evaluate_stage(_synthetic_stage(), recall_ks=(1, 2), balance_ks=(2, 4))
    acc = {(r.modality, r.method): (r.accuracy, r.balanced_accuracy) for r in result.accuracy}
    assert acc == {("image", "prompt"): (1.0, 1.0), ("audio", "prompt"): (1.0, 1.0)}
    rows = {(r.query, r.gallery, r.relevance): r.recall for r in result.retrieval}
    assert rows[("text", "image", "class")] == {1: 1.0, 2: 1.0}
    assert rows[("image", "audio", "class")] == {1: 1.0, 2: 1.0}
    # each sound has two same-class images tied at the top; the stable sort picks the lower index,
    # so the pair partner (same index) is first for the first three sounds and second for the rest
    assert rows[("audio", "image", "pair")] == {1: 0.5, 2: 1.0}
    # text queries: images score cos 0.995 with their class, sounds 0.55: the top 2 are images only
    balance = {(b.k): b.shares for b in result.balance}
    assert balance[2] == pytest.approx({"audio": 0.0, "image": 1.0})
    assert balance[4] == pytest.approx({"audio": 0.5, "image": 0.5})
    assert result.gallery_shares == {"audio": 0.5, "image": 0.5}


@pytest.mark.slow   # importing scikit-learn's t-SNE takes ~20 s on a busy machine
def test_report_html_has_tables_and_pictures(tmp_path):
    stage = _synthetic_stage()
    result = evaluate_stage(stage)
    result.pictures = draw_stage(stage, tmp_path, stage_slug(stage.title))
    assert (tmp_path / result.pictures["tsne"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / result.pictures["grid"]).stat().st_size > 1000
    calibration = tmp_path / "reliability.png"
    calibration.write_bytes((tmp_path / result.pictures["tsne"]).read_bytes())
    path = write_report(Report(stages=[result], figures=[("reliability diagram", str(calibration))],
                               notes=["synthetic embeddings"]), tmp_path)
    html = path.read_text()
    assert "Retrieval recall@K" in html and "audio → image" in html and "same instance" in html
    assert "<tr><td>image</td><td>100.0 (100.0)</td><td>6</td></tr>" in html  # accuracy (balanced), item count
    assert "Balance: share of each modality" in html
    assert sorted(result.pictures) == ["grid", "reliability diagram (audio)", "reliability diagram (image)", "tsne"]
    assert html.count('src="data:image/png;base64,') == 4 and html.count('src="data:image/jpeg;base64,') == 1
    assert "<h2>Calibration</h2>" in html and "synthetic embeddings" in html
    assert Report.model_validate_json((tmp_path / "report.json").read_text()).stages[0].title == "synthetic"


def test_balanced_accuracy_weighs_every_class_alike_and_a_per_modality_scorer_uses_its_own_centres():
    eye = torch.eye(4)
    # five images: four "dog" (all right), one "cat" scored as "dog": top-1 4/5, balanced (1 + 0) / 2
    images = torch.stack([eye[1]] * 5)   # CLASSES: cat e0, dog e1, owl e2
    stage = Stage("imbalanced", [EmbeddedSet("image", images, ["dog"] * 4 + ["cat"], list("abcde"))],
                  CLASSES, {"prompt": lambda x: x @ eye[:3].T})
    (row,) = evaluate_stage(stage, recall_ks=(1,), balance_ks=()).accuracy
    assert (row.accuracy, row.balanced_accuracy) == (pytest.approx(0.8), pytest.approx(0.5))
    # a trained space's own sets, one per modality: each set is scored with its modality's centres only
    sounds = torch.stack([eye[3]] * 2)
    own = {"image": lambda x: x @ eye[:3].T, "audio": lambda x: x @ eye[[3, 1, 2]].T}   # audio: cat's centre is e3
    stage = Stage("own", [EmbeddedSet("image", images[:4], ["dog"] * 4, list("abcd")),
                          EmbeddedSet("audio", sounds, ["cat"] * 2, list("xy"))], CLASSES, {"saved": own})
    result = evaluate_stage(stage, recall_ks=(1,), balance_ks=(2,))
    assert {r.modality: r.accuracy for r in result.accuracy} == {"image": 1.0, "audio": 1.0}
    # "cat" ranks the sounds first, "dog" the images, "owl" ties at 0 (stable sort: images): 4 of 6 are images
    assert result.balance[0].shares == pytest.approx({"image": 2 / 3, "audio": 1 / 3})


def test_pair_recall_counts_only_queries_with_a_partner():
    stage = _synthetic_stage()
    stage.sets[1].pair_ids = [0, 1, 2, 3, 4, 99]     # the last sound's photo is missing
    result = evaluate_stage(stage, recall_ks=(1, 2))
    pair = {(r.query, r.gallery): r for r in result.retrieval if r.relevance == "pair"}
    assert pair[("audio", "image")].queries == 5 and pair[("image", "audio")].queries == 5
    assert pair[("audio", "image")].recall == {1: pytest.approx(3 / 5), 2: 1.0}


def test_text_queries_count_only_classes_present_in_the_gallery():
    stage = _synthetic_stage()
    stage.class_names = [*CLASSES, "emu"]                 # a class with no items in either set
    centres = torch.eye(6)[[0, 1, 2, 5]]
    stage.scorers = {"prompt": lambda x: x @ centres.T}
    text_rows = [r for r in evaluate_stage(stage, recall_ks=(1,)).retrieval if r.query == "text"]
    assert [(r.queries, r.recall[1]) for r in text_rows] == [(3, 1.0), (3, 1.0)]


def test_missing_figure_is_a_clear_error(tmp_path):
    from unibind.errors import InputError

    with pytest.raises(InputError, match="nope.png: figure for the report not found"):
        write_report(Report(figures=[("x", str(tmp_path / "nope.png"))]), tmp_path)


def test_stage_slug_is_unique():
    assert stage_slug("After training (x/y)") == "after-training--x-y"
    assert stage_slug("a", ["a", "a-2"]) == "a-3"
