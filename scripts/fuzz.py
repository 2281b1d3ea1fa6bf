"""Fuzz every reader with seeded mutations of real (and, where no real data exists, simulated) files.

    .venv/bin/python scripts/fuzz.py --n 1000          # the README's reliability table
    .venv/bin/python scripts/fuzz.py --n 70 --keep     # keep the mutated files to look at

Exit code 1 when any file ends in an error other than an InputError naming it,
or when peak memory passes --max-rss-mb.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from reader_fuzzer import MODALITIES, format_report, run  # beside this script


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="mutated files in all (spread over modalities)")
    parser.add_argument("--seed", type=int, default=0, help="RNG seed: the same seed, the same files")
    parser.add_argument("--modalities", default=",".join(MODALITIES))
    parser.add_argument("--max-rss-mb", type=float, default=3000.0, help="peak memory bound of the whole run")
    parser.add_argument("--work-dir", type=Path, help="where seeds and mutants go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep every mutated file")
    parser.add_argument("--no-encode", dest="encode", action="store_false",
                        help="stop after the encoders' preprocessing (a finite input is the verdict): quicker")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")
    modalities = tuple(m.strip() for m in args.modalities.split(",") if m.strip())
    unknown = sorted(set(modalities) - set(MODALITIES))
    if unknown:
        parser.error(f"--modalities: unknown {', '.join(unknown)} (known: {', '.join(MODALITIES)})")
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="unibind-fuzz-"))
    report = run(args.n, work, rng_seed=args.seed, modalities=modalities, keep=args.keep, progress=sys.stderr.isatty(),
                 encode=args.encode)
    command = f"python scripts/fuzz.py --n {args.n} --seed {args.seed}" + ("" if args.encode else " --no-encode")
    print(format_report(report, command))
    ok = not report.crashes and report.peak_rss_mb <= args.max_rss_mb
    if report.peak_rss_mb > args.max_rss_mb:
        print(f"peak RSS {report.peak_rss_mb:.0f} MB is over the bound of {args.max_rss_mb:.0f} MB", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
