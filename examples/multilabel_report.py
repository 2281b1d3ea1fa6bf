"""Multi-label prediction on composites of real photos: several Tux Paint stamps pasted on one canvas.

Data: Tux Paint photo stamps (Debian ``tuxpaint-stamps-default``, GPL-2, read
at run time) of the classes in ``CLASSES`` (class name <- Tux Paint category
prefix). The stamps of each class are split in half: composites of two or
three stamps of different classes (alpha-composited cut-outs, *not* real
scenes) are made from the validation half and from the test half, so no stamp
is seen on both sides.

Scores: cosine of each composite's embedding (default image pipeline: EfficientNet-Lite0
and the ImageNet bridge; or trained adapters with ``--space``) to each class's centre
(the mean of its prompt-template embeddings, or a knowledge-base centre set with
``--centres``, scored by max).
Probabilities, compared on the test composites:

- ``softmax``: the space's current output (softmax over 100 x cosine), as if it were multi-label;
- ``shared sigmoid``: one temperature and bias for all classes, fitted on validation;
- ``per-class sigmoid``: a temperature and bias per class (``per-class-temperature``), fitted on validation.

Each at threshold 0.5 and at per-class thresholds maximising validation F1.
Figures: mAP, micro/macro F1, multi-label ECE (15 bins over all class
probabilities), Brier; +- is the std over 200 bootstrap resamples of the test composites.

    .venv/bin/python examples/multilabel_report.py [--count 200] [--centres centres.safetensors]
        [--space TRAINED_SPACE_DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from feature_cache import space_features
from unibind import Space
from unibind.atomic import atomic_open
from unibind.calibration.multilabel import (
    PerClassTemperature,
    PerClassTemperatureSettings,
    fit_thresholds,
    multilabel_report,
)
from unibind.calibration.metrics import bin_confidences
from unibind.composites import Part, make_composites
from unibind.datasets import tuxpaint_stamps

CLASSES = {
    "bird": ("animals/birds",), "mammal": ("animals/mammals",), "fish": ("animals/fish",),
    "insect": ("animals/insects",), "fruit": ("food/fruit",), "vegetable": ("food/vegetables",),
    "flower": ("plants/flowers",), "tree": ("plants/trees",), "vehicle": ("vehicles",),
    "clothing": ("clothes",), "tool": ("household/tools",), "planet": ("space/planets",),
}
METRICS = ["mAP", "micro_f1", "macro_f1", "ece", "brier"]


def label_of(category: str) -> str | None:
    for name, prefixes in CLASSES.items():
        if any(category == p or category.startswith(p + "/") for p in prefixes):
            return name
    return None


def split_parts(seed: int) -> tuple[list[Part], list[Part]]:
    """Stamps of each class, halved at random into validation and test parts."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[Part]] = {}
    for stamp in tuxpaint_stamps():
        label = label_of(stamp.category)
        if label:
            by_label.setdefault(label, []).append(Part(stamp.image, label))
    val, test = [], []
    for label in sorted(by_label):
        parts = [by_label[label][i] for i in rng.permutation(len(by_label[label]))]
        half = len(parts) // 2
        val += parts[:half]
        test += parts[half:]
    return val, test


def scores_and_targets(space: Space, parts: list[Part], folder: Path, count: int, seed: int,
                       centres, labels: list[str], cache: Path) -> tuple[torch.Tensor, torch.Tensor]:
    made, failures = make_composites(parts, folder, count, seed=seed)
    for failure in failures:
        print(f"skipped {failure.source}: {failure.reason}")
    _, vectors, kept = space_features(space, "image", [c.path for c in made], cache)
    sims = centres.score(vectors) if hasattr(centres, "score") else vectors @ centres.T
    by_path = {c.path: c for c in made}
    targets = torch.tensor([[float(label in by_path[p].labels) for label in labels] for p in kept])
    return sims, targets


def bootstrap(probs: torch.Tensor, targets: torch.Tensor, thresholds, rounds: int = 200) -> dict[str, tuple]:
    point = multilabel_report(probs, targets, thresholds)
    rng = np.random.default_rng(0)
    draws = {k: [] for k in METRICS}
    for _ in range(rounds):
        idx = torch.as_tensor(rng.integers(0, len(targets), len(targets)))
        for k, v in multilabel_report(probs[idx], targets[idx], thresholds).items():
            draws[k].append(v)
    return {k: (point[k], float(np.std(draws[k]))) for k in METRICS}


def reliability_plot(curves: dict[str, torch.Tensor], targets: torch.Tensor, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for name, probs in curves.items():
        found = bin_confidences(probs.flatten(), targets.flatten())
        used = found.count > 0
        ax.plot(found.confidence[used], found.accuracy[used], marker="o", label=name)
    ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="perfect")
    ax.set_xlabel("predicted probability (all classes)")
    ax.set_ylabel("fraction positive")
    ax.set_title("Multi-label reliability, test composites")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=200, help="Composites per split.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--centres", default=None, help="Knowledge-base centres (unibind kb centres).")
    parser.add_argument("--space", default=None, help="A trained space directory (unibind train --out); "
                        "default: the embedded default (ImageNet bridge).")
    parser.add_argument("--cache", default="/tmp/unibind-multilabel-cache")
    parser.add_argument("--out", default=None,
                        help="Folder for the table, the figures (json) and a reliability plot.")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cache = Path(args.cache)
    space = Space.from_dir(args.space, centres=args.centres) if args.space else Space(centres=args.centres)
    labels = list(CLASSES)
    centres = space.centre_set(labels=labels) if args.centres else space.class_centres(labels, "image")
    val_parts, test_parts = split_parts(args.seed)
    print(f"stamps: {len(val_parts)} validation, {len(test_parts)} test, classes "
          f"{ {c: sum(p.label == c for p in val_parts + test_parts) for c in labels} }")
    s_val, y_val = scores_and_targets(space, val_parts, cache / f"val-{args.seed}", args.count, args.seed,
                                      centres, labels, cache)
    s_test, y_test = scores_and_targets(space, test_parts, cache / f"test-{args.seed}", args.count,
                                        args.seed + 1, centres, labels, cache)
    shared = PerClassTemperature(PerClassTemperatureSettings(mode="shared")).fit(s_val, y_val)
    per_class = PerClassTemperature().fit(s_val, y_val)
    methods = {
        "softmax (uncalibrated)": lambda s: torch.softmax(space.logit_scale * s, -1),
        "shared sigmoid": shared,
        "per-class sigmoid": per_class,
    }
    rows, figures, curves = [], {}, {}
    for name, method in methods.items():
        p_val, p_test = method(s_val), method(s_test)
        curves[name] = p_test
        for rule, th in (("0.5", 0.5), ("per-class (val F1)", fit_thresholds(p_val, y_val))):
            result = bootstrap(p_test, y_test, th)
            figures[f"{name} / {rule}"] = result
            cells = " | ".join(f"{v:.3f} ± {e:.3f}" for v, e in result.values())
            rows.append(f"| {name} | {rule} | {cells} |")
    text = "\n".join([f"{len(y_test)} test composites, {len(labels)} classes, "
                      f"{y_test.sum(1).mean():.2f} labels per composite",
                      "", "| probabilities | threshold | " + " | ".join(METRICS) + " |",
                      "|---|---|" + "---|" * len(METRICS), *rows])
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        with atomic_open(out / "multilabel.md") as fh:
            fh.write(text + "\n")
        with atomic_open(out / "multilabel.json") as fh:
            json.dump(figures, fh, indent=1)
        reliability_plot(curves, y_test, out / "multilabel_reliability.png")


if __name__ == "__main__":
    main()
