"""`unibind list-plugins` start-up next to `llm plugins`, alternating, medians (issue 12).

llm is installed into its own venv so neither tool sees the other's packages:

    python -m venv /tmp/llm-venv && /tmp/llm-venv/bin/pip install llm==0.36
    nice -n 10 .venv/bin/python benchmarks/startup_vs_llm.py --llm /tmp/llm-venv/bin/llm --rounds 21

Each round runs both commands once, in alternating order, so load on a shared
machine falls on both alike; the figure is the ratio of the medians. Both run
with bytecode caching on (``PYTHONDONTWRITEBYTECODE`` removed, an untimed warm-up
writes the ``.pyc`` files), as after ``pip install``: uv does not compile
bytecode by default, and compiling every module on every start would dominate.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm", required=True, help="the llm executable of its own venv")
    parser.add_argument("--unibind", default=str(Path(sys.executable).with_name("unibind")),
                        help="the unibind executable (default: next to this Python)")
    parser.add_argument("--before", help="another unibind executable (e.g. an older checkout) timed alongside")
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args()
    for exe in (args.llm, args.unibind, args.before):
        if exe and not shutil.which(exe):
            parser.error(f"not an executable: {exe}")
    commands = {"unibind list-plugins": [args.unibind, "list-plugins"], "llm plugins": [args.llm, "plugins"]}
    if args.before:
        commands["before: list-plugins"] = [args.before, "list-plugins"]
    for command in commands.values():  # untimed: writes .pyc files, warms the file cache
        _wall(command)
        _wall(command)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(args.rounds):
        names = list(commands)
        order = names[round_ % len(names):] + names[:round_ % len(names)]  # each goes first in turn
        for name in order:
            times[name].append(_wall(commands[name]))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        spread = f"{min(times[name]):.3f}-{max(times[name]):.3f}"
        print(f"{name:<22} median {median:.3f} s  (range {spread} s, {args.rounds} runs)")
    print(f"ratio unibind/llm      {medians['unibind list-plugins'] / medians['llm plugins']:.2f}")
    if args.before:
        print(f"ratio before/llm       {medians['before: list-plugins'] / medians['llm plugins']:.2f}")


if __name__ == "__main__":
    main()
