"""Encoder constructions and wall time of one small ``unibind demo`` run, with and without sharing.

The demo shares one built copy of each encoder across its stages (training, the
spaces before and after, the space trained without the unseen classes) through
:class:`unibind.encoders.pool.EncoderPool`. ``--no-pool`` makes the pool build
anew on every request, which is what each stage did before, so the two can be
timed side by side on the same code::

    for mode in --no-pool "" --no-pool ""; do
        nice -n 10 .venv/bin/python scripts/demo_encoder_builds.py --out /tmp/demo-builds-$RANDOM $mode
    done

Each run needs an empty ``--out`` (features, knowledge base and training are redone);
prints one line per built (encoder, settings) with its count, the load average, the wall time and
the peak resident memory.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="An empty work directory.")
    parser.add_argument("--no-pool", action="store_true", help="Build every encoder per stage (the old behaviour).")
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"--out {args.out} is not empty: a second run reuses its work and times nothing comparable")

    from unibind.demo import DemoConfig, run_demo
    from unibind.encoders.pool import EncoderPool, counting_builds

    if args.no_pool:
        EncoderPool.build = lambda self, spec, settings=None, device=None: spec.build(settings)  # type: ignore
    load = os.getloadavg()[0]
    start = time.perf_counter()
    with counting_builds() as built:
        result = run_demo(DemoConfig(out=args.out, classes=("bird", "cattle", "insect"), unseen=("insect",),
                                     epochs=args.epochs, per_class=12, k=args.k), say=lambda _: None)
    wall = time.perf_counter() - start
    for (name, settings), n in sorted(built.items()):
        print(f"{n} x {name} {settings}")
    print(f"{'no pool' if args.no_pool else 'pool'}: wall {wall:.1f} s, load average {load:.1f} -> "
          f"{os.getloadavg()[0]:.1f}; audio after ECL {result.accuracy['audio/after']['ECL']:.3f}, "
          f"image after ECL {result.accuracy['image/after']['ECL']:.3f}; peak memory "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
