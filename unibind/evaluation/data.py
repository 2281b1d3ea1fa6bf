"""Labelled evaluation sets: the real data that ships in packages, or a folder of class folders.

An :class:`EvalSet` is one modality's items (in-memory samples, or file
paths the modality's loader reads), their class indices and a fingerprint
of the data for the feature cache. Tux Paint stamps with sounds give two
sets of the same stamps (photo and sound), i.e. real paired cross-modal data;
items of different sets with the same ``pair_keys`` entry are one instance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from unibind.errors import InputError
from unibind.evaluation.features import array_fingerprint, files_fingerprint
from unibind.knowledge.records import ClassRef


@dataclass
class EvalSet:
    """Items of one modality with labels (indices into ``classes``)."""

    name: str
    modality: str
    items: list[Any]
    labels: np.ndarray
    classes: list[ClassRef]
    data_key: str
    paths: bool = False
    note: str = ""
    pair_keys: list[str] | None = None  # same key in two sets: the same instance (e.g. one stamp)
    names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.items) != len(self.labels):
            raise ValueError(f"{self.name}: {len(self.items)} items but {len(self.labels)} labels")
        if not self.names:
            self.names = [Path(str(i)).name if self.paths else f"{self.name}#{n}" for n, i in enumerate(self.items)]

    @property
    def class_names(self) -> list[str]:
        return [c.name for c in self.classes]


def fashion_mnist_set(split: str = "test", limit: int | None = None, *, invert: bool = False) -> EvalSet:
    """Fashion-MNIST (Debian ``dataset-fashion-mnist``) as RGB pictures."""
    from unibind.datasets import FASHION_MNIST_CLASSES, fashion_mnist, fashion_mnist_images

    raw, _ = fashion_mnist(split)
    images, labels = fashion_mnist_images(split, limit, invert=invert)
    key = array_fingerprint(raw[:len(images)], invert=invert)   # the bytes already differ by split
    name = f"Fashion-MNIST {split}" + (" (inverted)" if invert else "")
    return EvalSet(name, "image", images, labels, [ClassRef(name=c) for c in FASHION_MNIST_CLASSES], key,
                   note="real data; 28x28 greyscale drawn as RGB")


def tuxpaint_set(categories: dict[str, tuple[str, ...]] | None = None) -> EvalSet:
    """One photo per Tux Paint stamp of the chosen folders (default: ``TUXPAINT_EVAL_CATEGORIES``)."""
    from unibind.datasets import tuxpaint_selection

    chosen = tuxpaint_selection(categories)
    return _from_stamps("Tux Paint photo stamps", "image", [(s.image, label) for s, label in chosen])


def tuxpaint_pairs(categories: dict[str, tuple[str, ...]] | None = None) -> list[EvalSet]:
    """Photos and sound effects of the same stamps (item i of one is item i of the other)."""
    from unibind.datasets import tuxpaint_selection

    if categories is None:
        categories = {"bird": ("animals/birds",), "mammal": ("animals/mammals",), "insect": ("animals/insects",),
                      "tool": ("household/tools",)}
    chosen = tuxpaint_selection(categories, with_sound=True)
    sets = [_from_stamps("Tux Paint stamps (photo)", "image", [(s.image, label) for s, label in chosen]),
            _from_stamps("Tux Paint stamps (sound)", "audio", [(s.sound, label) for s, label in chosen])]
    for s in sets:
        s.pair_keys = [str(p.with_suffix("")) for p in s.items]
    return sets


def folder_sets(root: str | Path, registry: Any = None) -> list[EvalSet]:
    """``root/<class>/<files>``: one set per modality found (by file suffix); unknown files are errors."""
    if registry is None:
        from unibind.plugins import get_registry

        registry = get_registry()
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "not a directory of class folders")
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if len(class_dirs) < 2:
        raise InputError(root, f"needs at least two class folders, found {len(class_dirs)}")
    by_modality: dict[str, list[tuple[Path, str]]] = {}
    for d in class_dirs:
        for path in sorted(p for p in d.rglob("*") if p.is_file() and not p.name.startswith(".")):
            try:
                modality = registry.modality_for_path(path).name
            except Exception:  # noqa: BLE001 - a stray file (README, .txt sidecar): skip it
                continue
            by_modality.setdefault(modality, []).append((path, d.name))
    if not by_modality:
        raise InputError(root, "no file of a known modality in the class folders")
    classes = [d.name for d in class_dirs]
    return [_from_stamps(f"{root.name} ({m})", m, pairs, classes, note=f"files under {root}")
            for m, pairs in sorted(by_modality.items())]


def manifest_sets(path: str | Path, registry: Any = None) -> list[EvalSet]:
    """A JSONL manifest as ``unibind train`` reads it (``path``, ``label``, optional ``modality`` and
    ``instance``): one set per modality; a shared ``instance`` pairs items across modalities."""
    import json

    path = Path(path)
    rows: dict[str, list[tuple[Path, str, str | None]]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            file, label = Path(record["path"]), str(record["label"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InputError(path, f"line {n}: needs a JSON object with 'path' and 'label' ({exc})") from exc
        modality = record.get("modality") or _modality_of(file, registry)
        rows.setdefault(modality, []).append((file, label, record.get("instance")))
    if not rows:
        raise InputError(path, "empty manifest")
    classes = sorted({label for group in rows.values() for _, label, _ in group})
    sets = []
    for modality, group in sorted(rows.items()):
        s = _from_stamps(f"{path.name} ({modality})", modality, [(f, label) for f, label, _ in group], classes,
                         note=f"manifest {path}")
        if all(instance is not None for _, _, instance in group):
            s.pair_keys = [str(instance) for _, _, instance in group]
        sets.append(s)
    return sets


def _modality_of(file: Path, registry: Any) -> str:
    if registry is None:
        from unibind.plugins import get_registry

        registry = get_registry()
    return registry.modality_for_path(file).name


def parse_data(spec: str) -> list[EvalSet]:
    """``fashion-mnist[:N]``, ``fashion-mnist-inverted[:N]``, ``tuxpaint``, ``tuxpaint-pairs``, a folder
    of class folders, or a ``.jsonl`` manifest."""
    name, _, count = spec.partition(":")
    limit = int(count) if count else None
    if name == "fashion-mnist":
        return [fashion_mnist_set(limit=limit)]
    if name == "fashion-mnist-inverted":
        return [fashion_mnist_set(limit=limit, invert=True)]
    if name == "tuxpaint":
        return [_limit(tuxpaint_set(), limit)]
    if name == "tuxpaint-pairs":
        return [_limit(s, limit) for s in tuxpaint_pairs()]
    if Path(spec).is_dir():
        return folder_sets(spec)
    if Path(spec).is_file() and spec.endswith(".jsonl"):
        return manifest_sets(spec)
    raise InputError(spec, "unknown data: give fashion-mnist[:N], fashion-mnist-inverted[:N], tuxpaint[:N], "
                           "tuxpaint-pairs[:N], a folder of class folders or a .jsonl manifest")


def _limit(s: EvalSet, limit: int | None) -> EvalSet:
    """The first ``limit`` items, spread over classes (every n-th item) so all classes stay."""
    if limit is None or limit >= len(s.items):
        return s
    keep = np.linspace(0, len(s.items) - 1, limit).round().astype(int)
    items = [s.items[i] for i in keep]
    return EvalSet(s.name, s.modality, items, s.labels[keep], s.classes, files_fingerprint(items) if s.paths
                   else f"{s.data_key}-{limit}", s.paths, s.note,
                   [s.pair_keys[i] for i in keep] if s.pair_keys is not None else None)


def _from_stamps(name: str, modality: str, pairs: Sequence[tuple[Path, str]],
                 classes: Sequence[str] | None = None,
                 note: str = "real data (Tux Paint, GPL-2, read at run time)") -> EvalSet:
    if not pairs:
        raise InputError(name, "no items selected")
    classes = list(classes) if classes is not None else sorted({label for _, label in pairs})
    labels = np.array([classes.index(label) for _, label in pairs], dtype=np.int64)
    paths = [p for p, _ in pairs]
    return EvalSet(name, modality, paths, labels, [ClassRef(name=c) for c in classes],
                   files_fingerprint(paths), paths=True, note=note)
