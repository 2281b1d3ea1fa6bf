"""Gap, alignment and uniformity on embeddings whose answer is known by construction."""

import math

import pytest
import torch
import torch.nn.functional as F

from unibind.evaluation.gap import alignment, gap_floor, measure_gap, modality_gap, uniformity
from unibind.evaluation.stage import EmbeddedSet, Stage, evaluate_stage


def test_gap_of_a_shifted_copy_is_the_shift_norm():
    x = torch.randn(50, 8, generator=torch.Generator().manual_seed(0))
    shift = torch.tensor([0.3, -0.4, 0, 0, 0, 0, 0, 1.2])
    assert modality_gap(x + shift, x) == pytest.approx(float(shift.norm()), rel=1e-6)
    assert modality_gap(x, x) == 0.0


def test_gap_between_opposite_poles_is_two():
    north, south = torch.zeros(3, 4), torch.zeros(5, 4)
    north[:, 0], south[:, 0] = 1.0, -1.0
    assert modality_gap(north, south) == pytest.approx(2.0)


def test_alignment_is_the_mean_squared_distance_of_pairs():
    x = torch.eye(3)
    assert alignment(x, x) == 0.0
    assert alignment(x, -x) == pytest.approx(4.0)                # antipodes: ||2 e_i||^2
    assert alignment(x, x[[1, 2, 0]]) == pytest.approx(2.0)      # orthogonal unit vectors
    assert alignment(x, x[[1, 2, 0]], alpha=1) == pytest.approx(math.sqrt(2))
    with pytest.raises(ValueError):
        alignment(x, x[:2])


def test_uniformity_is_zero_for_one_point_and_known_for_orthogonal_vectors():
    same = F.normalize(torch.ones(6, 4), dim=-1)
    assert uniformity(same) == pytest.approx(0.0)
    # every pair of distinct basis vectors is sqrt(2) apart: log exp(-2 * 2) = -4
    assert uniformity(torch.eye(5)) == pytest.approx(-4.0)
    # two pairs at squared distance 0 and 4 ... mixed: log((1 + exp(-8) + exp(-8)) / 3) for [e, e, -e]
    e = torch.tensor([[1.0, 0.0]])
    assert uniformity(torch.cat([e, e, -e])) == pytest.approx(math.log((1 + 2 * math.exp(-8)) / 3))


def test_uniformity_spread_beats_clumped():
    gen = torch.Generator().manual_seed(1)
    spread = F.normalize(torch.randn(200, 16, generator=gen), dim=-1)
    clumped = F.normalize(torch.randn(200, 16, generator=gen) * 0.1 + torch.eye(16)[0], dim=-1)
    assert uniformity(spread) < uniformity(clumped) - 1.0


def test_uniformity_subsamples_large_sets_reproducibly():
    x = F.normalize(torch.randn(300, 8, generator=torch.Generator().manual_seed(2)), dim=-1)
    assert uniformity(x, max_rows=100) == uniformity(x, max_rows=100)
    assert uniformity(x, max_rows=100) == pytest.approx(uniformity(x), abs=0.15)


def test_measure_gap_per_modality_against_class_texts():
    eye = torch.eye(6)
    texts = eye[:3]
    images = eye[[0, 1, 2, 0]]                                    # on their class texts
    sounds = F.normalize(eye[[0, 1, 2]] + eye[3], dim=-1)          # lifted along e3
    result = measure_gap([("image", images, ["a", "b", "c", "a"]), ("audio", sounds, ["a", "b", "c"])],
                         texts, ["a", "b", "c"])
    rows = {r.modality: r for r in result.rows}
    assert rows["image"].alignment == 0.0
    # sound i = (e_i + e3) / sqrt2: distance to e_i squared = 2 - 2 / sqrt2
    assert rows["audio"].alignment == pytest.approx(2 - math.sqrt(2))
    assert rows["image"].gap_to_text == pytest.approx(float((images.mean(0) - texts.mean(0)).norm()))
    assert rows["audio"].gap_to_text == pytest.approx(float((sounds.mean(0) - texts.mean(0)).norm()))
    assert rows["audio"].gap_to_text > rows["image"].gap_to_text
    assert result.pairs == {"image-audio": pytest.approx(float((images.mean(0) - sounds.mean(0)).norm()))}
    assert result.text_uniformity == pytest.approx(-4.0)
    assert rows["image"].items == 4


def test_evaluate_stage_reports_the_gap_when_prompts_are_known():
    eye = torch.eye(4)
    sets = [EmbeddedSet("image", eye[[0, 1]], ["a", "b"], ["x", "y"]),
            EmbeddedSet("audio", F.normalize(eye[[0, 1]] + eye[2], dim=-1), ["a", "b"], ["x", "y"])]
    with_prompts = evaluate_stage(Stage("s", sets, ["a", "b"], {"p": lambda v: v @ eye[:2].T}, prompts=eye[:2]))
    assert [r.modality for r in with_prompts.gap.rows] == ["image", "audio"]
    assert with_prompts.gap.rows[0].gap_to_text == pytest.approx(0.0, abs=1e-12)
    assert evaluate_stage(Stage("s", sets, ["a", "b"], {"p": lambda v: v @ eye[:2].T})).gap is None


def test_gap_floor_is_what_two_samples_of_one_distribution_show():
    gen = torch.Generator().manual_seed(3)
    draws = [F.normalize(torch.randn(2, 20, 16, generator=gen), dim=-1) for _ in range(300)]
    measured = math.sqrt(sum(modality_gap(a, b) ** 2 for a, b in draws) / len(draws))
    floors = sum(gap_floor(a, b) for a, b in draws) / len(draws)
    assert measured == pytest.approx(floors, rel=0.1)
    assert floors == pytest.approx(math.sqrt(2 / 20), rel=0.1)     # unit vectors: tr S ~ 1
    one_point = torch.ones(5, 4)
    assert gap_floor(one_point, one_point) == 0.0                  # no spread, no noise


def test_report_page_and_json_carry_the_gap(tmp_path):
    import json

    from unibind.evaluation.report import Report, write_report

    eye = torch.eye(4)
    sets = [EmbeddedSet("image", eye[[0, 1]], ["a", "b"], ["x", "y"]),
            EmbeddedSet("audio", F.normalize(eye[[0, 1]] + eye[2], dim=-1), ["a", "b"], ["x", "y"])]
    result = evaluate_stage(Stage("s", sets, ["a", "b"], {"p": lambda v: v @ eye[:2].T}, prompts=eye[:2]))
    html = write_report(Report(stages=[result]), tmp_path).read_text()
    audio = result.gap.rows[1]
    assert "Modality gap" in html
    assert f"<tr><td>audio</td><td>{audio.gap_to_text:.3f} ({audio.floor:.3f})</td><td>{audio.alignment:.3f}</td>" in html
    saved = json.loads((tmp_path / "report.json").read_text())["stages"][0]["gap"]
    assert saved["rows"][1]["gap_to_text"] == pytest.approx(audio.gap_to_text) and "image-audio" in saved["pairs"]
