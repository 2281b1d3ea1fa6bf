"""How well the shipped image calibrator's domain tells sets of files unlike its fitting photos.

    nice -n 10 .venv/bin/python scripts/calibration_domain_eval.py --work out/default-calibrators

The embedded default's image calibrator was fitted on the calibration half (seed 0) of the Tux Paint
photos. For its held-out half, its held-out photos two classes at a time (a folder of a few kinds of
picture: the set test must not cry wolf), Tux Paint's cartoon stamps (drawings, not photos),
Fashion-MNIST and MNIST (100 per digit), this prints how many files lie inside one at a time (k-NN),
the set test on all of them, and how often random draws of 20 and 50 files are found unlike
(``unibind.calibration.domain``). Scores are cached in --work (the same cache
``scripts/fit_default_calibrators.py`` writes), so a rerun does not re-encode.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("out/default-calibrators"))
    parser.add_argument("--draws", type=int, default=10, help="Random draws per set size.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 50], help="Set sizes to draw.")
    parser.add_argument("--n", type=int, default=1000, help="Fashion-MNIST and MNIST images.")
    args = parser.parse_args(argv)
    if args.draws < 1 or args.n < 1 or min(args.sizes) < 1:
        print("Error: --draws, --n and --sizes must be positive", file=sys.stderr)
        return 2

    import torch

    from unibind import datasets
    from unibind.calibration.domain import MIN_SET_FILES, CalibrationDomain
    from unibind.calibration.report import (cached_scores, fashion_mnist_files, mnist_files, split_halves,
                                            tuxpaint_photo_files)
    from unibind.space import Space

    space = Space()
    work = args.work / "image"
    photos = tuxpaint_photo_files()
    vectors, _, sources, _ = cached_scores(space, photos, work)
    target_of = {str(p): t for p, t in zip(photos.paths, photos.targets)}
    fit, held = split_halves([target_of[s] for s in sources], 0)
    domain = CalibrationDomain.fit(vectors[fit])
    held_targets = [target_of[sources[i]] for i in held]
    pairs = [[i for i, t in zip(held, held_targets) if t in (c, (c + 1) % len(photos.classes))]
             for c in range(len(photos.classes))]
    pairs = [rows for rows in pairs if len(rows) >= MIN_SET_FILES]
    chosen = {str(p) for p in photos.paths}
    cartoons = sorted(p for p in datasets.TUXPAINT_STAMPS.rglob("*.png") if "cartoon" in p.parts
                      and str(p) not in chosen)
    sets = [("Tux Paint photos, held-out half", vectors[held]),
            ("Tux Paint cartoon stamps", space.embed_files(cartoons, "image").vectors),
            ("Fashion-MNIST test", cached_scores(space, fashion_mnist_files(args.work / "fashion-mnist", args.n),
                                                 work)[0]),
            ("MNIST, balanced", cached_scores(space, mnist_files(args.work / "mnist", args.n), work)[0])]
    draw = torch.Generator().manual_seed(0)
    print(f"reference: {len(fit)} fitting photos; k = {domain.k}, radius {domain.radius:.3f}")
    print("| files | inside, one at a time | as a set: AUROC (p) | " +
          " | ".join(f"unlike, {n} at a time" for n in args.sizes) + " |")
    print("|---|---|---|" + "---|" * len(args.sizes))
    for name, found in sets:
        whole = domain.set_test(found)
        inside = int(domain.contains(found).sum())
        counts = []
        for size in args.sizes:
            tests = [domain.set_test(found[torch.randperm(len(found), generator=draw)[:size]])
                     for _ in range(args.draws)] if size <= len(found) else []
            counts.append(f"{sum(t.unlike for t in tests if t is not None)} / {len(tests)}" if tests else "-")
        verdict = "-" if whole is None else (f"{whole.auroc:.3f} ({whole.p_value:.1g}): "
                                            f"{'unlike' if whole.unlike else 'alike'}")
        print(f"| {name} ({len(found)}) | {inside} / {len(found)} | {verdict} | " + " | ".join(counts) + " |")
    flagged = [domain.set_test(vectors[rows]) for rows in pairs]
    print(f"\nheld-out photos two classes at a time ({len(pairs)} pairs of neighbouring class indices with "
          f">= {MIN_SET_FILES} files): unlike in {sum(t.unlike for t in flagged)} of {len(pairs)}; AUROC "
          + ", ".join(f"{t.auroc:.2f}" for t in flagged))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
