"""Multi-object composites: several real cut-out photos pasted on one canvas.

Test data for multi-label prediction. Tux Paint stamps are RGBA cut-outs, so
alpha compositing (PIL) places two or three of them on one white canvas with
no boxes around them. The pictures are *composites* of real photos, not real
scenes, and are named so (``composite_0003.png``). A manifest (``<prefix>s.json``) records which
stamps and labels each one holds; making them again skips the files already
written, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from unibind.atomic import atomic_open, atomic_path
from unibind.errors import InputError
from unibind.limits import open_image
from unibind.results import Failure

@dataclass(frozen=True)
class Part:
    """One cut-out to paste: its file and its label."""

    image: Path
    label: str


@dataclass(frozen=True)
class Composite:
    """A written composite: its file, the parts in it and their (distinct, sorted) labels."""

    path: Path
    parts: tuple[Path, ...]
    labels: tuple[str, ...]


def load_cutout(path: Path) -> Image.Image:
    """An RGBA cut-out; any other picture gets an opaque alpha channel."""
    try:
        with open_image(path) as img:  # over the shared pixel budget: refused before decoding
            img.load()
            return img.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(path, f"cannot be read as an image ({exc})") from None


def compose(cutouts: Sequence[Image.Image], *, size: int = 448, rng: np.random.Generator,
            background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Paste ``cutouts`` side by side (one vertical strip each, jittered) on a ``size`` square canvas.

    Each cut-out is scaled to fit its strip at 70-95 % of the strip, so none
    overlaps another and each stays large enough for the encoder to see.
    """
    if not cutouts:
        raise ValueError("nothing to compose")
    canvas = Image.new("RGBA", (size, size), (*background, 255))
    strip = size // len(cutouts)
    for i, cut in enumerate(cutouts):
        box = cut.getbbox() or (0, 0, *cut.size)  # trim transparent borders
        cut = cut.crop(box)
        scale = float(rng.uniform(0.7, 0.95)) * min(strip / cut.width, size / cut.height)
        w, h = max(1, round(cut.width * scale)), max(1, round(cut.height * scale))
        cut = cut.resize((w, h), Image.Resampling.LANCZOS)
        x = i * strip + int(rng.integers(0, strip - w + 1))
        y = int(rng.integers(0, size - h + 1))
        canvas.alpha_composite(cut, (x, y))
    return canvas.convert("RGB")


def draw_groups(parts: Sequence[Part], count: int, *, per_image: Sequence[int] = (2, 3),
                seed: int = 0) -> list[list[Part]]:
    """``count`` groups of parts with distinct labels, each of a size drawn from ``per_image``."""
    by_label: dict[str, list[Part]] = {}
    for part in parts:
        by_label.setdefault(part.label, []).append(part)
    labels = sorted(by_label)
    if len(labels) < max(per_image):
        raise ValueError(f"need at least {max(per_image)} labels to draw groups, have {len(labels)}")
    rng = np.random.default_rng(seed)
    groups = []
    for _ in range(count):
        k = int(rng.choice(per_image))
        chosen = rng.choice(len(labels), size=k, replace=False)
        groups.append([by_label[labels[c]][int(rng.integers(len(by_label[labels[c]])))] for c in chosen])
    return groups


def make_composites(parts: Sequence[Part], out_dir: str | Path, count: int, *,
                    per_image: Sequence[int] = (2, 3), size: int = 448, seed: int = 0,
                    prefix: str = "composite") -> tuple[list[Composite], list[Failure]]:
    """Write ``count`` composites to ``out_dir`` (resumable) and return them with any skipped ones.

    The draw depends only on ``parts``, ``count``, ``per_image`` and ``seed``,
    so a rerun makes the same pictures and keeps the files already on disk. A
    group with an unreadable cut-out is skipped and reported.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    made: list[Composite] = []
    failures: list[Failure] = []
    for index, group in enumerate(draw_groups(parts, count, per_image=per_image, seed=seed)):
        path = out_dir / f"{prefix}_{index:04d}.png"
        composite = Composite(path, tuple(p.image for p in group), tuple(sorted({p.label for p in group})))
        if not path.is_file():
            try:
                cutouts = [load_cutout(p.image) for p in group]
            except InputError as exc:
                failures.append(Failure(source=str(path), reason=str(exc)))
                continue
            picture = compose(cutouts, size=size, rng=np.random.default_rng([seed, index]))
            with atomic_path(path) as tmp:
                picture.save(tmp, format="PNG")
        made.append(composite)
    _write_manifest(out_dir / f"{prefix}s.json", made)
    return made, failures


def _write_manifest(path: Path, composites: Sequence[Composite]) -> None:
    records = [{"file": c.path.name, "parts": [str(p) for p in c.parts], "labels": list(c.labels),
                "note": "composite of real cut-out photos (not a real scene)"} for c in composites]
    with atomic_open(path) as fh:
        json.dump(records, fh, indent=1)
