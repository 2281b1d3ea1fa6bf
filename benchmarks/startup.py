"""Start-up of `unibind embed image` and `unibind classify` next to a bare `import torch` (issue 16).

    nice -n 10 .venv/bin/python benchmarks/startup.py --rounds 7 [--before OLD_CHECKOUT]

A user classifying one file waits for start-up, so every timed run embeds a
file the feature cache has never seen: each run gets its own copy of the image
(same pixels, a different PNG text chunk, so a different content hash). The
caches that are filled once per install (ImageNet-bridge text embeddings,
label texts, file digests) are warmed by untimed runs first, in a scratch
cache directory (``--cache-dir`` to use another), as after the first command.

``--before`` times another checkout of this repository (e.g.
``git archive main | tar -x -C /tmp/before``) side by side in the same rounds,
with this same venv: its ``unibind``, ``entrypoints`` and plugin sources go
first on ``PYTHONPATH``, exactly as this checkout's do for the "after" runs.
Commands run in a rotating order each round so load on a shared machine falls
on all alike. Wall time is what the user waits; CPU time (user + system of the
child) is printed beside it because it moves far less with the machine's load.
Bytecode is cached (``PYTHONDONTWRITEBYTECODE`` removed, as after ``pip install``).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, PngImagePlugin

ROOT = Path(__file__).resolve().parents[1]
TUXPAINT_PHOTO = Path("/usr/share/tuxpaint/stamps/animals/marsupials/koala.png")
#: Runs ``unibind`` from whatever checkout PYTHONPATH puts first (the console script, without its file).
LAUNCH = "import sys; sys.argv[0] = 'unibind'; from unibind_cli.main import main; sys.exit(main())"


def checkout_path(root: Path) -> str:
    """PYTHONPATH that makes ``root``'s core, command line and plugins win over the installed ones."""
    parts = [root, root / "entrypoints", *sorted((root / "plugins").glob("*/src")),
             *sorted((root / "examples").glob("*/src"))]
    return os.pathsep.join(str(p) for p in parts)


def unique_copy(image: Path, folder: Path, n: int) -> Path:
    """The same pixels under a new content hash, so no feature cache has seen it."""
    info = PngImagePlugin.PngInfo()
    info.add_text("unibind-startup-run", str(n))
    out = folder / f"{image.stem}-{n}.png"
    with Image.open(image) as picture:
        picture.save(out, pnginfo=info)
    return out


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one run; a failing command stops the benchmark."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--image", type=Path, default=TUXPAINT_PHOTO, help="a real photo (default: a Tux Paint stamp)")
    parser.add_argument("--labels", default="cat,dog")
    parser.add_argument("--before", type=Path, help="another checkout of this repository, timed alongside")
    parser.add_argument("--cache-dir", type=Path, help="UNIBIND_CACHE_DIR for every run (default: a scratch one)")
    args = parser.parse_args()
    if not args.image.is_file():
        parser.error(f"--image: no such file: {args.image}")
    if args.before and not (args.before / "unibind" / "__init__.py").is_file():
        parser.error(f"--before: not a checkout of this repository: {args.before}")

    scratch = Path(tempfile.mkdtemp(prefix="unibind-startup-"))
    # OMP_WAIT_POLICY too: what a user gets is whatever the command line itself chooses
    base = {k: v for k, v in os.environ.items()
            if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "OMP_WAIT_POLICY")}
    base.update(UNIBIND_CACHE_DIR=str(args.cache_dir or scratch / "cache"), HF_HUB_OFFLINE="1")
    checkouts = {"after": ROOT, **({"before": args.before.resolve()} if args.before else {})}
    envs = {name: {**base, "PYTHONPATH": checkout_path(root)} for name, root in checkouts.items()}
    python = sys.executable
    counter = iter(range(10**9))

    def commands() -> dict[str, list[str]]:
        cli = [python, "-c", LAUNCH]
        return {
            "unibind --help": [*cli, "--help"],
            "unibind list-plugins": [*cli, "list-plugins"],
            "unibind embed image one.png": [*cli, "embed", "image", "{image}"],
            f"unibind classify one.png --labels {args.labels}": [*cli, "classify", "{image}", "--labels", args.labels],
            # the scoring alone: where the calibrated confidence is below 0.6, the default run above
            # also re-checks the prediction with the fallback validators (a captioner's forward)
            f"unibind classify one.png --labels {args.labels} --no-fallback":
                [*cli, "classify", "{image}", "--labels", args.labels, "--no-fallback"],
        }

    runs: list[tuple[str, str, list[str], dict[str, str]]] = [
        ("python -c 'import torch'", "", [python, "-c", "import torch"], envs["after"])]
    for name in checkouts:
        runs += [(label, name, command, envs[name]) for label, command in commands().items()]

    def run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
        image = str(unique_copy(args.image, scratch, next(counter)))
        return timed([image if part == "{image}" else part for part in command], env)

    print(f"warming up (bytecode, file cache, the once-per-install caches in {base['UNIBIND_CACHE_DIR']})...",
          file=sys.stderr)
    for _, _, command, env in runs:
        run(command, env)
        run(command, env)
    load_start = os.getloadavg()
    times: list[list[tuple[float, float]]] = [[] for _ in runs]
    for round_ in range(args.rounds):
        order = list(range(len(runs)))
        order = order[round_ % len(order):] + order[:round_ % len(order)]  # each goes first in turn
        for i in order:
            times[i].append(run(runs[i][2], runs[i][3]))
        print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr)
    load_end = os.getloadavg()

    torch_wall = statistics.median(w for w, _ in times[0])
    torch_cpu = statistics.median(c for _, c in times[0])
    print(f"{args.rounds} rounds, medians; image {args.image} ({Image.open(args.image).size[0]}x"
          f"{Image.open(args.image).size[1]}), a new copy per run; load average "
          f"{load_start[0]:.1f} at start, {load_end[0]:.1f} at end, {os.cpu_count()} CPUs")
    print("| command | code | wall s | x import torch | CPU s | x import torch |")
    print("|---|---|---:|---:|---:|---:|")
    for (label, name, _, _), values in zip(runs, times):
        wall = statistics.median(w for w, _ in values)
        cpu = statistics.median(c for _, c in values)
        print(f"| `{label}` | {name or '-'} | {wall:.2f} | {wall / torch_wall:.2f} | {cpu:.2f} | "
              f"{cpu / torch_cpu:.2f} |")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
