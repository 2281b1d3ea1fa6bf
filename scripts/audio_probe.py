"""How much class information the frozen audio encoder's features hold: a supervised linear probe.

Usage: nice -n 10 .venv/bin/python scripts/audio_probe.py [--encoder spectrogram-image|aisfx|...]

A logistic regression on the frozen features (L2-normalised), 3-fold stratified cross-validation,
balanced accuracy, on the two real audio sets `scripts/real_sets_table.py` reports (Tux Paint's spoken
digits and its sound effects; classes with at least 3 recordings). The probe is the ceiling of any linear
adapter on these features: if it is near chance, training an adapter cannot do better.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from unibind.features.extract import FrozenEncoder, extract_features
    from unibind.space import Space

    sys.path.insert(0, str(Path(__file__).parent))
    from real_sets_table import load_rows

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default=None, help="audio encoder (default: the embedded default's)")
    args = parser.parse_args(argv)
    from unibind.errors import NotRegisteredError

    space = Space(encoders={"audio": args.encoder} if args.encoder else None,
                  adapters={"audio": "linear"} if args.encoder else None)
    try:
        pipe = space.pipeline("audio")
    except NotRegisteredError as exc:
        print(f"Error: --encoder {args.encoder}: {exc}", file=sys.stderr)
        return 1
    frozen = FrozenEncoder("audio", pipe.loader, pipe.encoder, args.encoder or "default", {})
    print("| set | items / classes | chance | probe C=0.1 | C=1 | C=10 |\n|---|---|---|---|---|---|")
    for name in ("spoken-digits", "tuxpaint"):
        rows = {r["path"]: r for r in load_rows(name, Path("out/audio-probe"), 30) if r["modality"] == "audio"}
        feats = extract_features(list(rows), frozen, progress=False)
        x = feats.vectors.float().numpy()
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        y = np.array([rows[s]["label"] for s in feats.sources])
        classes, counts = np.unique(y, return_counts=True)
        keep = np.isin(y, classes[counts >= 3])
        scores = []
        for c in (0.1, 1.0, 10.0):
            folds = StratifiedKFold(3, shuffle=True, random_state=0)
            pred = cross_val_predict(LogisticRegression(C=c, max_iter=3000), x[keep], y[keep], cv=folds)
            scores.append(balanced_accuracy_score(y[keep], pred))
        n_classes = len(set(y[keep]))
        print(f"| {name} | {int(keep.sum())} / {n_classes} | {1 / n_classes:.3f} | "
              + " | ".join(f"{s:.3f}" for s in scores) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
