"""Classes a trained space never saw, named at classify time: held-out real photos (Tux Paint), top-1.

    nice -n 10 .venv/bin/python scripts/new_labels.py --space SPACE [--seed 0] [--test-fraction 0.3]

SPACE is one ``scripts/modality_gap.py --out DIR --seeds S`` trained (``DIR/space-S-w0``): image and audio
adapters on the training stamps of the demo classes with at least 3 sounds. Its held-out stamps are drawn
again with the same seed and test fraction (``modality_gap.tuxpaint_rows``). Every photo is classified
against all 17 demo classes, as ``unibind classify --space SPACE --labels <all 17>`` does: the classes the
space saved centres for use them, the others are built now by its recipe. Printed: top-1 on the held-out
photos of the trained classes (seen) and on every photo of the other classes (new), for the space and for
the default space on the same photos and labels. Nothing is tuned: one run, the numbers as they come.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def top1(space, rows: list[dict], labels: list[str]) -> tuple[float, int]:
    predictions, failures = space.classify([r["path"] for r in rows], labels, modality="image")
    truth = {r["path"]: r["label"] for r in rows}
    right = sum(p.label == truth[p.source] for p in predictions)
    return right / max(1, len(predictions)), len(predictions)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-fraction", type=float, default=0.3)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).parent))
    from modality_gap import tuxpaint_rows

    from unibind.datasets import tuxpaint_selection
    from unibind.demo import DEMO_CLASSES, demo_rows
    from unibind.space import Space

    _train, test, trained = tuxpaint_rows(args.seed, args.test_fraction)
    labels = sorted(DEMO_CLASSES)
    seen = [r for r in test if r["modality"] == "image"]
    new = [r for r in demo_rows(tuxpaint_selection(DEMO_CLASSES))
           if r["modality"] == "image" and r["label"] not in trained]
    space = Space.from_dir(args.space)
    print(f"labels: {len(labels)} ({len(trained)} trained: {', '.join(trained)}); photos: {len(seen)} held-out "
          f"of trained classes, {len(new)} of the other {len(labels) - len(trained)} classes")
    for title, s in (("default space", Space()), (f"trained space {args.space}", space)):
        (acc_seen, n_seen), (acc_new, n_new) = top1(s, seen, labels), top1(s, new, labels)
        print(f"{title}: seen {100 * acc_seen:.1f} % of {n_seen}, new {100 * acc_new:.1f} % of {n_new}")
    for built in space.built_classes.values():
        print(f"note: {built.describe()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
