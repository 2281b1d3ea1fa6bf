"""``unibind eval`` end to end on real packaged data with the embedded default (small slices)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from unibind_cli.main import cli

pytestmark = pytest.mark.slow


def test_eval_zeroshot_on_fashion_mnist_and_tuxpaint(tmp_path):
    out = tmp_path / "out"
    args = ["eval", "zeroshot", "--data", "fashion-mnist:12", "--data", "tuxpaint:6", "--kb",
            str(tmp_path / "kb.sqlite"), "--source", "templates", "--source", "not-a-source", "--k", "5", "--k", "50",
            "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "not-a-source: not installed" in result.output
    tables = json.loads((out / "zeroshot.json").read_text())
    assert [t["dataset"] for t in tables] == ["Fashion-MNIST test", "Tux Paint photo stamps"]
    fashion = {r["title"]: r for r in tables[0]["rows"]}
    assert fashion["WordNet mean"]["status"] == "not in KB"
    # a KB of templates alone has no descriptions for ECL to choose among: said, not silently templates
    assert fashion["ECL k=5"]["status"] == "not in KB" and "no descriptions" in fashion["ECL k=5"]["detail"]
    mixed = fashion["ECL k=50, descriptions + templates"]
    assert mixed["centres_per_class"] == [50, 50] and mixed["total"] == 12 and "not the paper's ECL" in mixed["what"]
    for table, items in zip(tables, (12, 6)):                     # each accuracy is its own hit count
        for row in table["rows"]:
            if row["status"] == "ok":
                assert row["total"] == items and 0 <= row["correct"] <= items
                assert row["accuracy"] == pytest.approx(row["correct"] / items)
    assert tables[1]["items"] == 6
    # the KB this run created holds every set's classes; the second set did not go to a scratch copy
    from unibind.knowledge.store import KnowledgeBase

    with KnowledgeBase(tmp_path / "kb.sqlite", read_only=True) as kb:
        assert {"T-shirt/top", "vehicle"} <= {c.name for c in kb.classes()}
    assert not (out / "kb-with-additions.sqlite").exists() and "was added to" not in result.output
    markdown = (out / "zeroshot.md").read_text()
    assert "| template mean | 1 |" in markdown
    assert "Reproduce: `unibind eval zeroshot --data fashion-mnist:12 --data tuxpaint:6 --kb " in markdown
    # a rerun is served from the feature cache and gives the same table
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0, again.output
    assert json.loads((out / "zeroshot.json").read_text())[0]["rows"] == tables[0]["rows"]


def test_eval_report_on_tuxpaint_pairs(tmp_path):
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["eval", "report", "--data", "tuxpaint-pairs:6", "--kb",
                                      str(tmp_path / "kb.sqlite"), "--source", "templates", "--k", "10",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "balanced %" in result.stdout and "top-1 %" in result.stdout   # printed, not only in the HTML
    rows = json.loads((out / "report.json").read_text())["stages"][0]["accuracy"]
    assert all(0 <= r["balanced_accuracy"] <= 1 for r in rows)
    html = (out / "report.html").read_text()
    assert "before training" in html and "text → audio" in html and "image → audio" in html
    assert "ECL k=10" in html and html.count("data:image/png;base64,") == 3  # t-SNE and two reliability
    assert "Modality gap" in html                                   # and one line per stage on the terminal
    assert "before training (default space, ImageNet bridge): image gap " in result.output and " unif " in result.output
    gap = json.loads((out / "report.json").read_text())["stages"][0]["gap"]
    assert [r["modality"] for r in gap["rows"]] == ["image", "audio"] and 0 < gap["rows"][0]["gap_to_text"] < 2
    assert html.count("data:image/jpeg;base64,") == 1  # the retrieval grid of photos
    assert sorted(p.name.removeprefix("before-training--default-space--imagenet-bridge-")
                  for p in [*out.glob("*.png"), *out.glob("*.jpg")]) == [
        "audio-reliability.png", "grid.jpg", "image-reliability.png", "tsne.png"]


def test_eval_report_usage_errors(tmp_path):
    result = CliRunner().invoke(cli, ["eval", "report", "--no-default", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "--no-default needs --space" in result.output
    result = CliRunner().invoke(cli, ["eval", "report", "--data", "imagenet", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "unknown data" in result.output


def test_eval_zeroshot_keeps_finished_sets_when_a_later_set_fails(tmp_path, monkeypatch):
    """Tables are written after every set: a failure on the second set keeps the first set's figures."""
    import unibind.evaluation.runner as runner
    from unibind.errors import UniBindError

    real = runner.zero_shot
    calls = []

    def second_fails(space, data, *args, **kwargs):
        calls.append(data.name)
        if len(calls) == 2:
            raise UniBindError("the second set broke")
        return real(space, data, *args, **kwargs)

    monkeypatch.setattr(runner, "zero_shot", second_fails)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["eval", "zeroshot", "--data", "fashion-mnist:6", "--data", "tuxpaint:4",
                                      "--kb", str(tmp_path / "kb.sqlite"), "--source", "templates", "--k", "5",
                                      "--out", str(out)])
    assert result.exit_code == 1 and "Error: the second set broke" in result.output
    assert "Fashion-MNIST test kept in" in result.output and "Traceback" not in result.output
    tables = json.loads((out / "zeroshot.json").read_text())
    assert [t["dataset"] for t in tables] == ["Fashion-MNIST test"] and tables[0]["items"] == 6
    assert "| template mean |" in (out / "zeroshot.md").read_text()
