"""Calibration before fusion, measured on real paired data: Tux Paint photo + sound of the same stamp.

Data: the 130 Tux Paint photo stamps that have a sound effect (Debian
``tuxpaint-stamps-default``, GPL-2, read at run time). Classes are Tux Paint
categories: ``animals/birds`` -> bird (18), ``animals/mammals/**`` -> mammal
(40), ``symbols/**`` -> symbol (28: spoken digits and letters, faces), and
every other category -> other (44). Features: the default image encoder
(EfficientNet-Lite0) and the default audio encoder (spectrogram-image), either
mapped into the text space by the ImageNet bridge (``--features space``,
384-d, default) or as raw encoder features (``--features encoder``, 1280-d).

Protocol: repeated stratified k-fold (default 5 folds x 2 repeats). In every
fold each fusion head (mean, concat, attention) is trained twice from the same
seed, without and with the pre-fusion calibration module, identically
otherwise (features z-scored with the training fold's statistics, AdamW,
modality dropout 0.2, and with ``--conflict p`` one modality of a share p of
training instances swapped for another instance's). Each model is tested on the held-out
fold clean, with the image removed, with the audio removed, with Gaussian
noise on the image features (``--noise``: noise norm / feature norm, default 4), and with the audio
swapped for another test instance's. Reported: accuracy mean +- std over
folds, and the paired per-fold difference.

    .venv/bin/python examples/fusion_report.py [--features space|encoder] [--folds 5] [--repeats 2]

Features are cached in ``--cache`` (default /tmp/unibind-fusion-cache).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import RepeatedStratifiedKFold

from feature_cache import space_features
from unibind import Space
from unibind.atomic import atomic_open
from unibind.calibration.prefusion import PreFusionSettings
from unibind.datasets import tuxpaint_stamps
from unibind.fusion import (
    FusionClassifier,
    FusionSettings,
    add_noise,
    drop_modality,
    predict,
    swap_modality,
    train_fusion,
)

MODALITIES = ["image", "audio"]
CLASSES = ["bird", "mammal", "symbol", "other"]
CONDITIONS = ["clean", "image removed", "audio removed", "image noise", "audio swapped"]


def stamp_class(category: str) -> str:
    """Tux Paint category -> one of CLASSES."""
    if category.startswith("animals/birds"):
        return "bird"
    if category.startswith("animals/mammals"):
        return "mammal"
    if category.startswith("symbols"):
        return "symbol"
    return "other"


def paired_features(kind: str, cache: Path) -> tuple[dict[str, torch.Tensor], torch.Tensor, list[str]]:
    """Image and audio features of the stamps that have both, and their class indices."""
    stamps = tuxpaint_stamps(with_sound=True)
    space = Space()
    feats, kept = {}, {}
    for modality, files in (("image", [s.image for s in stamps]), ("audio", [s.sound for s in stamps])):
        raw, embedded, ok = space_features(space, modality, files, cache)
        feats[modality] = embedded if kind == "space" else raw
        kept[modality] = {str(p): i for i, p in enumerate(ok)}
    both = [s for s in stamps if str(s.image) in kept["image"] and str(s.sound) in kept["audio"]]
    out = {"image": feats["image"][[kept["image"][str(s.image)] for s in both]],
           "audio": feats["audio"][[kept["audio"][str(s.sound)] for s in both]]}
    labels = torch.tensor([CLASSES.index(stamp_class(s.category)) for s in both])
    return {m: v.clone() for m, v in out.items()}, labels, [s.name for s in both]


def standardise(train: dict[str, torch.Tensor], test: dict[str, torch.Tensor]):
    """z-score every feature with the training fold's statistics, so neither variant wins by rescaling."""
    stats = {m: (x.mean(0), x.std(0).clamp_min(1e-6)) for m, x in train.items()}
    return ({m: (x - stats[m][0]) / stats[m][1] for m, x in train.items()},
            {m: (x - stats[m][0]) / stats[m][1] for m, x in test.items()})


def conditions(test: dict[str, torch.Tensor], presence: torch.Tensor, seed: int, noise: float):
    g = torch.Generator().manual_seed(seed)
    yield "clean", test, presence
    yield "image removed", *drop_modality(test, presence, MODALITIES, "image")
    yield "audio removed", *drop_modality(test, presence, MODALITIES, "audio")
    yield "image noise", add_noise(test, "image", noise, g), presence
    yield "audio swapped", swap_modality(test, "audio", g), presence


def run(args: argparse.Namespace) -> dict:
    torch.set_num_threads(1)
    feats, labels, _ = paired_features(args.features, Path(args.cache))
    print(f"{len(labels)} paired stamps; classes {dict(zip(CLASSES, np.bincount(labels.numpy()).tolist()))}")
    dims = {m: feats[m].shape[1] for m in MODALITIES}
    splitter = RepeatedStratifiedKFold(n_splits=args.folds, n_repeats=args.repeats, random_state=0)
    acc: dict[tuple[str, str, str], list[float]] = {}
    kept: dict[tuple[str, str, str], list[float]] = {}
    started = time.time()
    for fold, (train_idx, test_idx) in enumerate(splitter.split(np.zeros(len(labels)), labels.numpy())):
        train, test = standardise({m: feats[m][train_idx] for m in MODALITIES},
                                  {m: feats[m][test_idx] for m in MODALITIES})
        p_train = torch.ones(len(train_idx), 2, dtype=torch.bool)
        p_test = torch.ones(len(test_idx), 2, dtype=torch.bool)
        for head in args.heads:
            for variant in ("without", "with"):
                settings = FusionSettings(head=head, epochs=args.epochs, seed=fold, conflict=args.conflict,
                                          prefusion=PreFusionSettings(enabled=variant == "with",
                                                                      hidden=args.prefusion_hidden))
                torch.manual_seed(fold)  # same initial head for both variants, whatever ran before
                model = train_fusion(FusionClassifier(dims, len(CLASSES), settings), train, p_train,
                                     labels[train_idx])
                for name, x, presence in conditions(test, p_test, 1000 + fold, args.noise):
                    right = predict(model, x, presence).argmax(1) == labels[test_idx]
                    acc.setdefault((head, variant, name), []).append(float(right.float().mean()))
                    if model.prefusion is not None:
                        with torch.no_grad():
                            out = model.prefusion(x, presence)
                        for m, i in zip(MODALITIES, range(2)):
                            on = presence[:, i]
                            if on.any():
                                ratio = out[m][on].norm(dim=1) / x[m][on].norm(dim=1).clamp_min(1e-12)
                                kept.setdefault((head, m, name), []).append(float(ratio.mean()))
        print(f"fold {fold + 1}: {time.time() - started:.0f} s", flush=True)
    return {"acc": acc, "kept": kept, "n": len(labels)}


def table(result: dict, heads: list[str]) -> str:
    acc = result["acc"]
    lines = ["| head | pre-fusion calibration | " + " | ".join(CONDITIONS) + " |",
             "|---|---|" + "---|" * len(CONDITIONS)]
    for head in heads:
        for variant in ("without", "with"):
            cells = [f"{np.mean(acc[head, variant, c]):.3f} ± {np.std(acc[head, variant, c]):.3f}"
                     for c in CONDITIONS]
            lines.append(f"| {head} | {variant} | " + " | ".join(cells) + " |")
        deltas = [np.subtract(acc[head, "with", c], acc[head, "without", c]) for c in CONDITIONS]
        lines.append(f"| {head} | **with − without** (paired) | "
                     + " | ".join(f"{d.mean():+.3f} ± {d.std():.3f}" for d in deltas) + " |")
    lines += ["", "Share of each modality's feature norm the trained module keeps (mean over folds):", "",
              "| head | modality | " + " | ".join(CONDITIONS) + " |", "|---|---|" + "---|" * len(CONDITIONS)]
    for head in heads:
        for m in MODALITIES:
            cells = [f"{np.mean(result['kept'][head, m, c]):.2f}" if (head, m, c) in result["kept"] else "-"
                     for c in CONDITIONS]
            lines.append(f"| {head} | {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--features", choices=["space", "encoder"], default="space")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--noise", type=float, default=4.0, help="Image noise norm / feature norm.")
    parser.add_argument("--conflict", type=float, default=0.0,
                        help="Training: share of instances with one modality swapped for another's.")
    parser.add_argument("--prefusion-hidden", type=int, default=64, help="Summary width of the module.")
    parser.add_argument("--heads", nargs="+", default=["mean", "concat", "attention"])
    parser.add_argument("--cache", default="/tmp/unibind-fusion-cache")
    parser.add_argument("--out", default=None,
                        help="Write the table (markdown) and raw accuracies (json) here.")
    args = parser.parse_args()
    result = run(args)
    text = table(result, args.heads)
    print(text)
    if args.out:
        out = Path(args.out)
        with atomic_open(out.with_suffix(".md")) as fh:
            fh.write(text + "\n")
        with atomic_open(out.with_suffix(".json")) as fh:
            json.dump({" / ".join(k): v for k, v in result["acc"].items()}, fh, indent=1)


if __name__ == "__main__":
    main()
