"""Regenerate the embedded default's shipped calibrators (unibind/calibration/defaults/<modality>.*).

    nice -n 10 .venv/bin/python scripts/fit_default_calibrators.py --work out/default-calibrators

Per modality, a temperature is fitted on the calibration half (seed 0, stratified) of one real set
that Debian installs (image: Tux Paint photo stamps; audio: Tux Paint sound effects) and measured on
its held-out half and on other real sets it was never fitted on (image: Fashion-MNIST test and MNIST;
audio: Tux Paint spoken digits), including how many of their files lie inside the calibrator's domain
(unibind.calibration.domain) and its ECE inside and outside. Scores are cached in --work, so a rerun (or a killed run) does not
re-encode; the same scores give the same temperature. Only the fitted numbers and their record are
written into the package; the data stays where Debian put it.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import replace
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("out/default-calibrators"),
                        help="Folder for cached scores and reliability diagrams (not committed).")
    parser.add_argument("--modality", action="append", choices=["image", "audio"],
                        help="Modalities to fit (default: both).")
    parser.add_argument("--fashion", type=int, default=1000, help="Fashion-MNIST test images to measure on.")
    parser.add_argument("--mnist", type=int, default=1000, help="MNIST digits to measure on (0: none).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--held-out-fraction", type=float, default=0.5)
    parser.add_argument("--threshold", type=float, default=0.6)
    parser.add_argument("--dest", type=Path, default=None, help="Where to write (default: the package's folder).")
    parser.add_argument("--dry-run", action="store_true", help="Measure and print, write nothing into the package.")
    args = parser.parse_args(argv)

    from unibind.calibration.base import CalibrationFitError
    from unibind.calibration.defaults import DEFAULTS_DIR
    from unibind.calibration.fit_defaults import fit_default_calibrator, format_provenance
    from unibind.calibration.report import (fashion_mnist_files, mnist_files, tuxpaint_photo_files,
                                            tuxpaint_sound_files, tuxpaint_spoken_digit_files)
    from unibind.calibration.store import write_calibrator
    from unibind.space import Space

    def sounds():   # the default audio calibrator reads each sound alone: no partner photo
        return replace(tuxpaint_sound_files(), partners={}, note="Tux Paint sound effects, 4 classes (real)")

    plans = {
        "image": (tuxpaint_photo_files, [lambda: fashion_mnist_files(args.work / "fashion-mnist", args.fashion)]
                  + ([lambda: mnist_files(args.work / "mnist", args.mnist)] if args.mnist else [])),
        "audio": (sounds, [tuxpaint_spoken_digit_files]),
    }
    command = "scripts/fit_default_calibrators.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    space = Space()
    dest = args.dest or DEFAULTS_DIR
    refused = 0
    for modality in args.modality or list(plans):
        fit_on, others = plans[modality]
        try:
            fitted = fit_default_calibrator(space, fit_on(), [make() for make in others], args.work / modality,
                                            seed=args.seed, held_out=args.held_out_fraction,
                                            threshold=args.threshold, command=command.strip())
        except CalibrationFitError as exc:   # the shipped file (if any) stays as it was
            print(f"{modality}: nothing written: {exc}", file=sys.stderr, flush=True)
            refused += 1
            continue
        print(format_provenance(fitted.record), flush=True)
        if not args.dry_run:
            print(f"wrote {write_calibrator(dest / f'{modality}.safetensors', fitted)}")
    return 1 if refused else 0


if __name__ == "__main__":
    raise SystemExit(main())
