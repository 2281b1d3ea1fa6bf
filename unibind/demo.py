"""The main job on the embedded default: zero-shot classification of real photos.

The photos are scikit-learn's two sample photographs and, when Debian's
``tuxpaint-stamps-default`` is installed, a few Tux Paint photo stamps.
Until the knowledge base and trained adapters land, centres are prompt
templates and the image encoder reaches the text space through the
ImageNet bridge.
"""

from __future__ import annotations

from pathlib import Path

from unibind.datasets import TUXPAINT_STAMPS, MissingDataError, sklearn_photos

#: (file under the stamps folder, its true label) -- real photo cut-outs.
TUXPAINT_PHOTOS = (
    ("animals/mammals/dogs/dog.png", "dog"),
    ("animals/mammals/cats/tiger.png", "tiger"),
    ("animals/birds/blackbird.png", "bird"),
    ("food/fruit/apple_red.png", "apple"),
    ("food/fruit/pineapple.png", "pineapple"),
    ("vehicles/garbagetruck.png", "truck"),
)

#: scikit-learn's sample photos and their true labels.
SKLEARN_PHOTOS = (("china.jpg", "building"), ("flower.jpg", "flower"))

DEMO_LABELS = ("flower", "building", "dog", "tiger", "bird", "apple", "pineapple", "truck", "car", "guitar")


def demo_photos() -> list[tuple[Path, str]]:
    """Real photos with their true labels, from what is installed here."""
    photos: list[tuple[Path, str]] = []
    try:
        found = sklearn_photos()
        photos += [(found[name], label) for name, label in SKLEARN_PHOTOS if name in found]
    except MissingDataError:
        pass
    photos += [(TUXPAINT_STAMPS / rel, label) for rel, label in TUXPAINT_PHOTOS
               if (TUXPAINT_STAMPS / rel).is_file()]
    return photos
