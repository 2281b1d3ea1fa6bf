"""The report opens with the result (issue 15): tables per modality, what did not work, unseen counts."""

from __future__ import annotations

import os
import re

from pathlib import Path

import pytest

from unibind.evaluation.report import Report, write_report
from unibind.evaluation.summary import (CalibrationRow, ClassRow, SummaryRow, UnseenRow, findings, per_class,
                                        summary_rows)


def synthetic_report(tmp_path: Path, stages=()) -> Report:
    rows = summary_rows({"image": {"ECL": 0.40, "template mean": 0.35}, "audio": {"ECL": 0.125}},
                        {"image": {"ECL": 0.70, "template mean": 0.60}, "audio": {"ECL": 0.125}},
                        {"image": 95, "audio": 24}, classes=17)
    calibration = [CalibrationRow(modality="image", ece_raw=0.316, ece_calibrated=0.061, temperature=1.87,
                                  fitted_on=43, measured_on=52)]
    unseen = [UnseenRow(modality="image", method="ECL", items=28,
                        right={"bridge only": 10, "trained with them": 20, "trained without them": 9}),
              UnseenRow(modality="audio", method="ECL", items=1,
                        right={"bridge only": 0, "trained with them": 0, "trained without them": 0})]
    return Report(title="synthetic report", command="pytest", stages=list(stages), summary=rows,
                  calibration=calibration, unseen=unseen, unseen_classes=["fish", "tree"],
                  findings=findings(rows, unseen, calibration, method="ECL"),
                  ece_note="ECE appears twice: whole split (n = 95) and the held-out half (n = 52).",
                  settings={"text encoder": "minilm", "epochs": "60", "seed": "0", "unibind": "0.1.0",
                            "a long setting": "x" * 300},
                  per_class={"image": [ClassRow(label=f"class {i}", precision=0.5, recall=0.25, f1=1 / 3,
                                                support=i) for i in range(17)]},
                  notes=["synthetic numbers"])


def test_the_summary_is_the_first_thing_on_the_page(tmp_path):
    html = write_report(synthetic_report(tmp_path), tmp_path).read_text()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert html.index('id="summary"') < html.index("synthetic numbers")  # before the notes and stages
    image = html[html.index("image: top-1 % on 95 held-out items (chance 5.9 %)"):]
    assert re.search(r"<td>ECL</td>\s*<td>40.0</td>\s*<td>70.0</td>\s*<td class=\"up\">\+30.0</td>", image)
    assert "0.316 → 0.061 (T = 1.87, n = 52)" in html
    assert "audio did not improve with training (ECL top-1 12.5 % -&gt; 12.5 %, chance 5.9 %, n = 24)" in html
    assert "ECE appears twice" in html


def test_unseen_classes_are_integer_counts_and_small_sets_are_not_judged(tmp_path):
    html = write_report(synthetic_report(tmp_path), tmp_path).read_text()
    table = html[html.index('id="unseen"'):html.index('id="per-class"')]
    assert "<th>bridge only</th><th>trained with them</th><th>trained without them</th>" in table
    assert "<td>10 (36 %)</td><td>20 (71 %)</td><td>9 (32 %)</td>" in table
    assert "<td>0</td><td>0</td><td>0</td>" in table and "too few to judge (n &lt; 20)" in table
    assert ".000" not in table and "unseen classes, audio: only 1 test items, too few to judge." in html


def test_per_class_rows_are_scikit_learns():
    rows = per_class(["a", "a", "b", "c"], ["a", "b", "b", "a"], ["a", "b", "c", "d"])
    assert [(r.label, r.precision, r.recall, r.support) for r in rows] == [
        ("a", 0.5, 0.5, 2), ("b", 0.5, 1.0, 1), ("c", 0.0, 0.0, 1)]
    assert abs(rows[1].f1 - 2 / 3) < 1e-9


def test_findings_name_a_modality_that_did_not_improve_and_nothing_when_all_worked():
    good = [SummaryRow(modality="image", method="ECL", before=0.3, after=0.6, chance=0.1, items=50)]
    assert findings(good, [UnseenRow(modality="image", method="ECL", items=30, right={"bridge only": 3,
                    "trained without them": 5})], [], method="ECL") == []
    flat = [SummaryRow(modality="audio", method="ECL", before=0.2, after=0.2, chance=0.1, items=50)]
    assert findings(flat, [], [], method="ECL") == [
        "audio did not improve with training (ECL top-1 20.0 % -> 20.0 %, chance 10.0 %, n = 50)."]


# -- the page in a real browser ---------------------------------------------------------------

#: Every element outside a horizontal scroller must fit the viewport; every image must have decoded.
LAYOUT_CHECK = """() => {
  const vw = document.documentElement.clientWidth;
  const overflowing = [];
  for (const el of document.body.querySelectorAll('*')) {
    const scroller = el.parentElement && el.parentElement.closest('.scroll');
    if (scroller) continue;                       // inside a scroller: it scrolls, the page does not
    const r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > vw + 0.5 || r.left < -0.5))
      overflowing.push(`${el.tagName.toLowerCase()}.${el.className} right=${Math.round(r.right)}`);
  }
  const images = [...document.images].map(i => ({alt: i.alt, loaded: i.complete && i.naturalWidth > 0}));
  return {viewport: vw, innerWidth: window.innerWidth, scrollWidth: document.documentElement.scrollWidth,
          overflowing, images};
}"""


def render_in_chromium(html: Path, width: int, screenshot: Path | None = None) -> dict:
    """Open ``html`` in Debian's headless chromium at ``width`` px (a phone below 500) and run LAYOUT_CHECK."""
    import shutil

    import pytest

    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")
    chromium = shutil.which("chromium") or shutil.which("chromium-headless-shell")
    assert chromium, "chromium is not installed: setup.sh installs Debian's chromium"
    with sync_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": width, "height": 900}, is_mobile=width < 500,
                                    has_touch=width < 500, device_scale_factor=1)
            page.goto(html.resolve().as_uri(), wait_until="load")
            if screenshot is not None:
                page.screenshot(path=str(screenshot))
            return page.evaluate(LAYOUT_CHECK)
        finally:
            browser.close()


def _synthetic_stage(tmp_path: Path):
    """Two simulated modalities over three classes; the 'photos' are simulated pictures (flat colours)."""
    import torch
    import torch.nn.functional as F
    from PIL import Image

    from unibind.evaluation.stage import EmbeddedSet, Stage

    classes = ["cat", "dog", "owl"]
    eye = torch.eye(6)
    pictures = []
    for i in range(6):
        path = tmp_path / f"simulated-{i}.png"
        Image.new("RGB", (200, 150), ((80 * i) % 255, 120, 200)).save(path)
        pictures.append(path)
    labels = [classes[i % 3] for i in range(6)]
    images = F.normalize(eye[[0, 1, 2, 0, 1, 2]] + 0.1 * eye[4], dim=-1)
    sounds = F.normalize(eye[[0, 1, 2, 0, 1, 2]] + 1.5 * eye[3], dim=-1)
    return Stage("after training (simulated embeddings)", [
        EmbeddedSet("image", images, labels, [p.name for p in pictures], items=pictures, pair_ids=list(range(6))),
        EmbeddedSet("audio", sounds, labels, [f"a very long simulated sound name {i}.wav" for i in range(6)],
                    items=None, pair_ids=list(range(6))),
    ], classes, {"ECL": lambda x: x @ eye[:3].T}, prompts=eye[:3])


@pytest.mark.slow  # t-SNE (scikit-learn) and a browser start: ~30 s on a busy machine
def test_the_report_fits_a_phone_and_a_laptop_and_every_image_loads(tmp_path):
    from unibind.evaluation.report import stage_slug
    from unibind.evaluation.stage import draw_stage, evaluate_stage

    stage = _synthetic_stage(tmp_path)
    result = evaluate_stage(stage)
    result.pictures = draw_stage(stage, tmp_path, stage_slug(stage.title))
    assert result.pictures["grid"].endswith(".jpg")
    page = write_report(synthetic_report(tmp_path, [result]), tmp_path)
    assert page.read_text().count("data:image/jpeg;base64,") == 1
    for width in (1280, 390):
        shot = Path(os.environ.get("UNIBIND_SCREENSHOTS", tmp_path)) / f"report-{width}.png"
        found = render_in_chromium(page, width, shot)
        assert found["viewport"] == width and found["innerWidth"] == width, found
        assert found["scrollWidth"] <= width, found
        assert found["overflowing"] == [], found["overflowing"][:10]
        assert len(found["images"]) == 4 and all(i["loaded"] for i in found["images"]), found["images"]
        assert shot.stat().st_size > 5_000
    # the check itself catches what the old page did: a wide table with no scroller, a broken picture
    bad = tmp_path / "bad.html"
    bad.write_text('<!doctype html><meta name="viewport" content="width=device-width, initial-scale=1">'
                   '<table><tr><td style="white-space:nowrap">' + "wide " * 100 + '</td></tr></table>'
                   '<img alt="gone" src="missing.png">')
    found = render_in_chromium(bad, 390)
    assert found["overflowing"] and found["images"] == [{"alt": "gone", "loaded": False}]
