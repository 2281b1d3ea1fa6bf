"""Benchmarks measured side by side in one run, so noisy machines still give honest ratios."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from typing import Any

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


def embed_throughput(space: Any, modality: str, paths: list, *, workers: int = 2, batch_size: int = 16) -> dict:
    """End-to-end embedding rate (files/s) next to the bare encoder forward on pre-decoded tensors.

    Both are measured in this one run on the same files and batches, so the
    ratio holds on a noisy machine: it says whether loading and preprocessing
    keep the encoder fed.
    """
    import torch

    from unibind.batching import preprocess_all
    from unibind.devices import autocast, to_device, to_host

    pipe = space.pipeline(modality)
    space.embed_files(paths[:batch_size], modality, batch_size=batch_size, progress=False)  # warm-up
    tensors, _ = preprocess_all(paths, pipe.loader, pipe.encoder)
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(tensors), batch_size):
            batch = to_device(pipe.encoder.collate(tensors[i:i + batch_size]), space.device)
            with autocast(space.device, space.precision):
                features = pipe.encoder(batch)
            to_host(pipe.adapter(features.float()))
    forward_s = time.perf_counter() - start
    start = time.perf_counter()
    result = space.embed_files(paths, modality, batch_size=batch_size, workers=workers, progress=False)
    end_to_end_s = time.perf_counter() - start
    n = len(result.sources)
    return {
        "modality": modality, "encoder": pipe.encoder_name, "files": n, "workers": workers,
        "batch_size": batch_size, "forward_files_per_s": len(tensors) / forward_s,
        "end_to_end_files_per_s": n / end_to_end_s,
        "ratio": (n / end_to_end_s) / (len(tensors) / forward_s),
        "failures": len(result.failures),
    }
