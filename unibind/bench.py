"""Benchmarks measured side by side in one run, so noisy machines still give honest ratios."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

from unibind.testing.checks import HEAVY_MODULES

_LIST_PLUGINS = "from unibind_cli.main import main; import sys; sys.argv = ['unibind', 'list-plugins', '--all']; main()"

_HEAVY_PROBE = (
    "import sys, json, contextlib, io\n"
    "from unibind_cli.main import main\n"
    "sys.argv = ['unibind', 'list-plugins', '--all', '--json']\n"
    "buf = io.StringIO()\n"
    "with contextlib.redirect_stdout(buf):\n"
    "    try:\n        main()\n    except SystemExit:\n        pass\n"
    "print(json.dumps({'heavy': [m for m in %r if m in sys.modules], 'plugins': len(json.loads(buf.getvalue()))}))\n"
)


def _median_run(args: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def heavy_imports_of_list_plugins() -> dict:
    """Which heavy modules ``unibind list-plugins`` imports, and how many plugins it saw."""
    done = subprocess.run([sys.executable, "-c", _HEAVY_PROBE % (HEAVY_MODULES,)], capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def startup_figures(repeat: int = 7) -> dict:
    """Median wall time of ``list-plugins`` and of ``python -c pass``, interleaved."""
    baseline = _median_run([sys.executable, "-c", "pass"], repeat)
    listing = _median_run([sys.executable, "-c", _LIST_PLUGINS], repeat)
    probe = heavy_imports_of_list_plugins()
    return {"baseline_s": baseline, "list_plugins_s": listing, "ratio": listing / baseline,
            "heavy": probe["heavy"], "plugins": probe["plugins"]}
