"""Measure the fallback's cut rule on real held-out data: the 95 % lower-bound rule against the old point estimate.

    nice -n 10 .venv/bin/python scripts/fallback_eval.py --work out/fallback-eval --out docs

For each real set and seed, the set is split into stratified halves (``split_halves``); a temperature
is fitted on the fit half and the fallback's cut and revise choice are fitted on the fit half twice, at
the threshold and the grid ``calibrate fit`` uses (``FALLBACK_GRID``): with the library's rule (the one-sided
95 % Clopper-Pearson lower bound of the verified right-fraction must reach max(threshold, accuracy of what
the threshold accepts alone)) and with the old rule (the point estimate right/count must reach the
threshold; :class:`PointEstimateFallback`, here only). Each fitted cut is put in a calibrator record and
the fallback ``classify`` would build from it (``fallback_for``) is measured on the held-out half through
the same review (``fallback_effect``): coverage and accuracy of accepted answers without a fallback, with
the old rule and with the new, and the decisions. On the held-out items below the threshold it also gives
the AUROC of the validators' fused support and of the calibrated confidence at telling right predictions
from wrong ones. Scores are cached in --work (a rerun does not re-encode); validator verdicts are
remembered per set and seed, so each item is checked once per seed whichever rule asks.
"""

from __future__ import annotations

import argparse
import math
import shlex
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from unibind.validation.base import Fallback

SETS = ("tuxpaint-photos", "fashion-mnist", "mnist", "tuxpaint-sounds", "spoken-digits")
RULES = ("none", "old", "new")
DECISIONS = ("accepted", "verified", "revised", "rejected")
#: The heading of docs/fallback.md's hand-written reading: a rerun rewrites the figures above it and keeps it.
READING = "## Reading"


class PointEstimateFallback(Fallback):
    """The old rule: a cut (or keeping revisions) needs the point estimate right/count to reach the threshold."""

    @classmethod
    def lower_bound(cls, right: int, count: int) -> float:
        return right / count if count else 0.0

    @classmethod
    def _choose(cls, cases, records, truth, threshold, target, floor=float("-inf")):  # type: ignore[override]
        stats = super()._choose(cases, records, truth, threshold, threshold if target is None else target, floor)
        stats["rule"] = "point estimate right/count >= threshold"
        return stats


class Remembered:
    """A validator whose verdict on a (source, predicted label) is asked once: the same probabilities, texts
    and settings give the same verdict, so both rules and the AUROC share one check per item and seed."""

    def __init__(self, validator: Any, memory: dict):
        self.validator, self.memory, self.name = validator, memory, validator.name

    def validate(self, case: Any, texts: Any, space: Any) -> Any:
        key = (self.name, case.source, case.predicted)
        if key not in self.memory:
            self.memory[key] = self.validator.validate(case, texts, space)
        return self.memory[key].model_copy(deep=True)


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:   # one line, no usage dump
        print(f"Error: {message}", file=sys.stderr)
        raise SystemExit(2)


def fit_entry(policy: type[Fallback], fallback: Fallback, cases: Sequence[Any], texts: Any, space: Any,
              truth: Sequence[int], threshold: float, grid: Sequence[float]) -> dict[str, Any]:
    """The record entry (as ``defaults.fit_fallback`` writes it) of ``policy``'s rule, fitted at ``threshold``
    over ``grid`` with ``fallback``'s settings and validators."""
    fits = policy(fallback.settings, validators=fallback.validators).fit_thresholds(
        cases, texts, space, list(truth), sorted({float(threshold), *grid}))
    stats = fits[float(threshold)]
    finite = {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in stats.items()}
    return {"threshold": float(threshold), "cut": finite["cut"], "revise": stats["revise"], "fitted": finite}


def right_count(figures: dict[str, Any], count: int) -> int:
    """How many accepted answers were right, from ``fallback_effect``'s coverage and accuracy over ``count`` files."""
    accuracy = figures["accuracy"]
    return 0 if accuracy is None else round(accuracy * figures["coverage"] * count)


def fused_support(record: Any) -> float:
    """The fused confidence ``Fallback`` compares with its cut: the mean of the calibrated confidence and the
    supports of the validators that did not abstain (the confidence alone when all abstained)."""
    voters = [v.support or 0.0 for v in record.validators if v.verdict != "abstain"]
    return (record.original_confidence + sum(voters)) / (1 + len(voters))


def auroc(scores: Sequence[float], right: Sequence[bool]) -> float | None:
    """AUROC of ``scores`` at telling right (positive) from wrong; None where one class is absent."""
    if len(set(bool(r) for r in right)) < 2:
        return None
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score([int(bool(r)) for r in right], list(scores)))


def measure_seed(space: Any, data: Any, loaded: tuple, seed: int, threshold: float) -> dict[str, Any]:
    """One set, one seed: fit on the fit half, measure both rules and no fallback on the held-out half."""
    import torch

    from unibind.calibration.defaults import FALLBACK_GRID, fallback_for
    from unibind.calibration.fit_defaults import fallback_effect
    from unibind.calibration.report import split_halves
    from unibind.calibration.store import CalibratorRecord, FittedCalibrator
    from unibind.calibration.temperature import TemperatureScaler
    from unibind.validation.base import class_texts, ranked_cases

    vectors, sims, sources, targets = loaded
    fit_rows, held_rows = split_halves(targets.tolist(), seed)
    logits = space.logit_scale * sims
    scaler = TemperatureScaler().fit(logits[fit_rows], targets[fit_rows])
    probs = scaler(logits)
    memory: dict = {}

    def calibrator(entry: dict[str, Any] | None) -> FittedCalibrator:
        record = CalibratorRecord(name="temperature", modality=data.modality, labels=None, class_specific=False,
                                  fitted_on=len(fit_rows), logit_scale=space.logit_scale,
                                  provenance={"fallback": {**entry, "grid": []}} if entry else {})
        return FittedCalibrator(scaler, record)

    def remembered(fallback: Fallback) -> Fallback:
        fallback.validators = [Remembered(v, memory) for v in fallback.validators]
        return fallback

    base = remembered(fallback_for(space, calibrator(None), threshold))   # the validators classify builds
    texts = class_texts(space, data.classes, data.modality)
    rows = fit_rows.tolist()
    cases = ranked_cases([sources[i] for i in rows], data.modality, data.classes, probs[rows], vectors[rows],
                         sims[rows])
    truth = targets[rows].tolist()
    out: dict[str, Any] = {"set": data.name, "seed": seed, "fit": len(fit_rows), "held_out": len(held_rows),
                           "temperature": scaler.temperature, "rules": {}}
    started = time.perf_counter()
    for rule, policy in (("old", PointEstimateFallback), ("new", Fallback)):
        entry = fit_entry(policy, base, cases, texts, space, truth, threshold, FALLBACK_GRID)
        fallback = remembered(fallback_for(space, calibrator(entry), threshold))   # exactly what classify builds
        effect = fallback_effect(space, fallback, data, sources, vectors, sims, probs, targets, held_rows.tolist())
        added = effect["decisions"].get("verified", 0) + effect["decisions"].get("revised", 0)
        out["rules"][rule] = {**effect["with"], "decisions": effect["decisions"], "cut": entry["cut"],
                              "revise": entry["revise"], "target": entry["fitted"]["target"],
                              "adds_nothing": fallback.adds_nothing, "added": added,
                              "fit": {k: entry["fitted"][k] for k in ("agreed", "agreed_right", "bound")},
                              # what the threshold accepts is accepted unchanged: the rest was added by the fallback
                              "added_right": right_count(effect["with"], effect["count"])
                              - right_count(effect["without"], effect["count"])}
        out["rules"]["none"] = effect["without"]
        out["accuracy_all"] = effect["accuracy_all"]
    # the validators' fused support vs the calibrated confidence, on the held-out items below the threshold
    held = held_rows.tolist()
    below = [c for c in ranked_cases([sources[i] for i in held], data.modality, data.classes, probs[held],
                                     vectors[held], sims[held]) if float(c.probs.max()) < threshold]
    truth_of = {sources[i]: data.classes[int(targets[i])] for i in held}
    records = [base._run(c, texts, space, threshold) for c in below]
    right = [r.original_label == truth_of[c.source] for c, r in zip(below, records)]
    out["below"] = {"count": len(below), "right": sum(right),
                    "auroc_fused": auroc([fused_support(r) for r in records], right),
                    "auroc_confidence": auroc([r.original_confidence for r in records], right)}
    out["seconds"] = time.perf_counter() - started
    return out


def loaders(work: Path, n: int) -> dict[str, Any]:
    from unibind.calibration import report

    return {"tuxpaint-photos": report.tuxpaint_photo_files,
            "fashion-mnist": lambda: report.fashion_mnist_files(work / "fashion-mnist", n),
            "mnist": lambda: report.mnist_files(work / "mnist", n),
            # each sound alone, as classify and the shipped default read it (no partner photo)
            "tuxpaint-sounds": lambda: replace(report.tuxpaint_sound_files(), partners={}),
            "spoken-digits": report.tuxpaint_spoken_digit_files}


def _mean_sd(values: Sequence[float | None], digits: int = 3) -> str:
    got = [v for v in values if v is not None and not math.isnan(v)]
    if not got:
        return "n/a"
    text = (f"{statistics.mean(got):.{digits}f} ± {statistics.stdev(got):.{digits}f}" if len(got) > 1
            else f"{got[0]:.{digits}f}")
    return text + (f" ({len(got)}/{len(values)})" if len(got) < len(values) else "")


def _fraction(right: int, count: int) -> str:
    return f"{right} / {count}" + (f" = {right / count:.3f}" if count else "")


def _num(value: float | None) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def summary_table(results: Sequence[dict[str, Any]]) -> list[str]:
    """Mean ± sd over seeds per set and rule (markdown rows)."""
    lines = ["| set (held-out n) | rule | coverage | accuracy of accepted | verified | revised | rejected | "
             "answers the fallback added: right / count, all seeds | cut fitted (seeds) | "
             "AUROC below threshold: fused / confidence |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    by_set: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        by_set.setdefault(r["set"], []).append(r)
    for name, runs in by_set.items():
        for rule in RULES:
            figures = [r["rules"][rule] for r in runs]
            counts = ["–"] * 3 if rule == "none" else [
                _mean_sd([float(f["decisions"].get(d, 0)) for f in figures], 1) for d in DECISIONS[1:]]
            cuts = "–" if rule == "none" else f"{sum(f['cut'] is not None for f in figures)}/{len(figures)}" + (
                f", revise {sum(f['revise'] for f in figures)}" if any(f["revise"] for f in figures) else "")
            below = "" if rule != "none" else (
                f"{_mean_sd([r['below']['auroc_fused'] for r in runs])} / "
                f"{_mean_sd([r['below']['auroc_confidence'] for r in runs])}")
            held = "/".join(sorted({str(r["held_out"]) for r in runs}))
            added = "–" if rule == "none" else _fraction(sum(f["added_right"] for f in figures),
                                                         sum(f["added"] for f in figures))
            lines.append(f"| {name} ({held}) | {rule} | {_mean_sd([f['coverage'] for f in figures])} | "
                         f"{_mean_sd([f['accuracy'] for f in figures])} | {' | '.join(counts)} | {added} | {cuts} | "
                         f"{below} |")
    return lines


def seed_table(results: Sequence[dict[str, Any]]) -> list[str]:
    """Every set and seed's raw figures (markdown rows)."""
    lines = ["| set | seed | T | below thr. (right) | none: cov / acc | old: cut, revise, cov / acc, decisions | "
             "new: target, cut (fit half: agreed right, bound), revise, cov / acc, decisions | AUROC fused / conf |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        n, o, w = (r["rules"][k] for k in RULES)

        def rule(f: dict[str, Any], target: bool) -> str:
            d = ", ".join(f"{k} {f['decisions'].get(k, 0)}" for k in DECISIONS if f["decisions"].get(k))
            d += f" (added right {f['added_right']})" if f["added"] else ""
            fit = (f" (fit half: {f['fit']['agreed_right']}/{f['fit']['agreed']} agreed right, best bound "
                   f"{_num(f['fit']['bound'])})" if target else "")
            return (f"{_num(f['target']) + ', ' if target else ''}{_num(f['cut']) if f['cut'] is not None else 'none'}"
                    f"{fit}"
                    f", {'yes' if f['revise'] else 'no'}, {_num(f['coverage'])} / {_num(f['accuracy'])}, {d}")
        lines.append(f"| {r['set']} | {r['seed']} | {r['temperature']:.2f} | {r['below']['count']} "
                     f"({r['below']['right']}) | {_num(n['coverage'])} / {_num(n['accuracy'])} | {rule(o, False)} | "
                     f"{rule(w, True)} | {_num(r['below']['auroc_fused'])} / {_num(r['below']['auroc_confidence'])} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("out/fallback-eval"),
                        help="Folder for cached scores and written PNGs (not committed).")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="Split seeds.")
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS), metavar="SET",
                        help=f"Real sets to measure (default: all of {', '.join(SETS)}).")
    parser.add_argument("--n", type=int, default=500, help="Images of the MNIST-style sets.")
    parser.add_argument("--threshold", type=float, default=0.6, help="Fallback threshold.")
    parser.add_argument("--out", type=Path, default=None, help="Folder to write fallback.md into (default: none).")
    args = parser.parse_args(argv)
    if args.n < 20:
        parser.error(f"--n {args.n}: give at least 20 images")
    if not 0 < args.threshold < 1:
        parser.error(f"--threshold {args.threshold}: give a value between 0 and 1")
    if len(set(args.seeds)) < len(args.seeds):
        parser.error("--seeds: give each seed once")

    import torch

    from unibind.calibration.base import CalibrationFitError
    from unibind.calibration.report import cached_scores
    from unibind.datasets import MissingDataError
    from unibind.space import Space

    started = time.perf_counter()
    command = "scripts/fallback_eval.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    space = Space()
    makers = loaders(args.work, args.n)
    results: list[dict[str, Any]] = []
    skipped: list[tuple[str, int | None, str]] = []    # (set, seed or None: the whole set, why)
    for name in args.sets:
        try:
            data = makers[name]()
        except MissingDataError as exc:
            print(f"{name}: skipped: {exc}", file=sys.stderr, flush=True)
            skipped.append((name, None, str(exc)))
            continue
        args.work.mkdir(parents=True, exist_ok=True)
        vectors, sims, sources, failures = cached_scores(space, data, args.work)
        target_of = {str(p): t for p, t in zip(data.paths, data.targets)}
        loaded = (vectors, sims, sources, torch.tensor([target_of[s] for s in sources]))
        for seed in args.seeds:
            try:
                r = measure_seed(space, data, loaded, seed, args.threshold)
            except CalibrationFitError as exc:   # no calibrator: classify would not run the fallback either
                print(f"{name} seed {seed}: not measured: {exc}", file=sys.stderr, flush=True)
                skipped.append((name, seed, str(exc)))
                continue
            r["skipped_files"] = len(failures)
            results.append(r)
            o, w = r["rules"]["old"], r["rules"]["new"]
            print(f"{name} seed {seed}: none {_num(r['rules']['none']['coverage'])}/"
                  f"{_num(r['rules']['none']['accuracy'])}, old {_num(o['coverage'])}/{_num(o['accuracy'])} "
                  f"(cut {o['cut']}), new {_num(w['coverage'])}/{_num(w['accuracy'])} (cut {w['cut']}); "
                  f"{r['seconds']:.0f} s", file=sys.stderr, flush=True)
    minutes = (time.perf_counter() - started) / 60
    table = summary_table(results)
    print("\n".join(table))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / "fallback.md"
        reading = path.read_text().partition(READING)[2] if path.is_file() else ""
        path.write_text(document(results, table, command.strip(), args, minutes, skipped)
                        + (reading.lstrip("\n") or "(to be written from the figures above)\n"))
        print(f"wrote {args.out / 'fallback.md'}", file=sys.stderr)
    return 0


def document(results: Sequence[dict[str, Any]], table: list[str], command: str, args: Any, minutes: float,
             skipped: Sequence[tuple[str, int | None, str]]) -> str:
    """docs/fallback.md up to its :data:`READING` heading: what is measured, the command, the tables."""
    seeds = " ".join(str(s) for s in args.seeds)
    parts = [
        "# The fallback's cut rule, measured on real held-out data",
        "",
        "Generated by `scripts/fallback_eval.py`; the reading at the end is written by hand from these figures.",
        "",
        "## What is measured",
        "",
        f"Below the threshold ({args.threshold}) on calibrated confidence, `unibind classify` has the validators "
        "re-check a prediction. A fitted *cut* says from which fused support (the mean of the calibrated confidence "
        "and the validators' supports) an agreed prediction is *verified* (accepted), and *revise* whether the "
        "validators' unanimous revisions are kept; both are fitted on labelled files. Two rules for fitting them:",
        "",
        "- **new** (the library's, `Fallback._choose`): the one-sided 95 % Clopper-Pearson lower bound of the "
        "verified predictions' right-fraction must reach the target max(threshold, accuracy of what the threshold "
        "accepts alone on the fitting files);",
        "- **old** (`PointEstimateFallback` in the script only): the point estimate right/count must reach the "
        "threshold.",
        "- **none**: no fallback: only predictions at or above the threshold are accepted.",
        "",
        f"For each set and seed ({seeds}) the set is split into stratified halves (`split_halves`). On the fit half a "
        "temperature is fitted (`TemperatureScaler`) and the cut and revise choice with each rule, over the "
        "threshold grid `calibrate fit` uses (a cut never falls as the threshold rises). Each fitted entry is put "
        "in a calibrator record and the fallback `classify` builds from it (`fallback_for`, all registered "
        "validators: yes-no, caption-agreement with the installed captioner for images, cross-modal, which "
        "abstains on single files) is run on the held-out half through the same review (`fallback_effect`). "
        "*Coverage* is the share of held-out files answered (not rejected), *accuracy* the share of those "
        "answers that are right (n/a: nothing answered). Decisions are mean counts per held-out half; the answers "
        "the fallback added (verified or revised below the threshold) are pooled over seeds with how many were "
        "right, to compare with the threshold the fallback stands in for. Means are over the seeds where a "
        "temperature was fitted (the others are listed below the tables). The last column is, on the held-out "
        "items below the threshold, the AUROC at telling right predictions from wrong ones of the validators' "
        "fused support and of the calibrated confidence alone (n/a: one class absent). Figures are mean ± sd over "
        "seeds (a count in brackets: seeds where it is defined).",
        "",
        "```console",
        f"$ nice -n 10 .venv/bin/python {command}",
        "```",
        "",
        f"Run time {minutes:.1f} min on the shared 2-core machine (scores cached in `--work`).",
        "",
        "## Mean ± sd over seeds",
        "",
        *table,
        "",
        "<details><summary>Per seed</summary>",
        "",
        *seed_table(results),
        "",
        "</details>",
        "",
    ]
    if skipped:
        parts += ["Not measured (no temperature fitted means no calibrated confidence, and `classify` runs no "
                  "fallback without one; the first seed's reason is given):", ""]
        for name in dict.fromkeys(n for n, _, _ in skipped):
            mine = [(seed, why) for n, seed, why in skipped if n == name]
            seeds = " ".join(str(seed) for seed, _ in mine if seed is not None)
            parts.append(f"- {name}" + (f", seeds {seeds} ({len(mine)} of {len(args.seeds)})" if seeds else "")
                         + f": {mine[0][1]}")
        parts.append("")
    parts += [READING, "", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    raise SystemExit(main())
