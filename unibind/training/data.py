"""Training data: a folder per class, or a JSONL manifest.

Manifest lines are JSON objects validated by ``Item`` (documented, with its
generated JSON schema, in docs/training-manifest.md): ``path``, ``label``,
``description``, ``instance`` and ``modality`` (else inferred from the suffix).
In a folder per class, every file a modality reads is a sample of the class
named by its top folder, and a sibling ``<name>.txt`` gives its description
(first line). Bad lines and unreadable entries are skipped and reported.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from unibind.errors import InputError, NotRegisteredError
from unibind.results import Failure


class Item(BaseModel):
    """One training sample: one line of a JSONL manifest (docs/training-manifest.md)."""

    model_config = ConfigDict(extra="forbid", title="UniBind training manifest line")

    path: Path = Field(description="The sample's file; relative paths are relative to the manifest's folder.")
    modality: str | None = Field(default=None, description=(
        "The modality that reads the file (e.g. \"imu\"). Optional when a modality claims the file's suffix "
        "(the longest claim wins: \"walk.imu.csv\" matches \".imu.csv\"); needed for a suffix no modality "
        "or several modalities claim (a plain \".csv\")."))
    label: str | None = Field(default=None, description="The sample's class name. A line needs a label, a "
                              "description, or both.")
    description: str | None = Field(default=None, description=(
        "A sentence about this sample, used as its text target next to (or instead of) the label."))
    instance: str | None = Field(default=None, description=(
        "Ties several modalities of one instance together (a photo and its sound): they share a description "
        "and always land in the same train/validation split."))

    @property
    def key(self) -> str:
        """What ties items into one instance (its own path when no instance id is given)."""
        return self.instance or str(self.path)


def manifest_schema() -> dict[str, Any]:
    """The JSON schema of one manifest line (committed as docs/training-manifest.schema.json)."""
    return Item.model_json_schema()


def read_dataset(source: str | Path, registry: Any, modalities: Sequence[str] | None = None
                 ) -> tuple[list[Item], list[Failure]]:
    """Items of a JSONL manifest or a folder per class, with the modality of each resolved."""
    source = Path(source)
    if source.is_dir():
        items, failures = _folder(source)
    elif source.is_file():
        items, failures = _manifest(source)
    else:
        raise InputError(source, "no such manifest or folder")
    kept, unread, other = [], Counter(), Counter()
    for item in items:
        try:
            modality = item.modality or registry.modality_for_path(item.path).name
        except NotRegisteredError as exc:
            failures.append(Failure(source=str(item.path), reason=str(exc)))
            unread[_suffix(item.path)] += 1
            continue
        if modalities is None or modality in modalities:
            kept.append(item.model_copy(update={"modality": modality}))
        else:
            other[modality] += 1
    _share_instance_descriptions(kept)
    if not kept:
        wanted = f" of {', '.join(modalities)}" if modalities else ""
        why = _why_none(len(items), failures, unread, other, modalities)
        raise InputError(source, f"no usable samples{wanted}: {why}")
    return kept, failures


def _suffix(path: Path) -> str:
    return "".join(path.suffixes[-2:]).lower() or "(no suffix)"


def _why_none(n_items: int, failures: list[Failure], unread: Counter, other: Counter,
              modalities: Sequence[str] | None) -> str:
    """Why nothing was usable, in the words a user can act on."""
    reasons = []
    if n_items == 0 and failures:
        first = failures[0]
        reasons.append(f"{len(failures)} line(s) or file(s) skipped, first: {first.source}: {first.reason}")
    elif n_items == 0:
        reasons.append("the manifest or folder holds no sample")
    for suffix, n in unread.most_common():
        one = modalities[0] if modalities and len(modalities) == 1 else None
        hint = f'add "modality": "{one}"' if one else 'add "modality"'
        reasons.append(f"{n} sample(s) with suffix {suffix} that no single modality claims; {hint} "
                       "to their manifest lines")
    for modality, n in other.most_common():
        reasons.append(f"{n} sample(s) are {modality}")
    return "; ".join(reasons)


def manifest_item(raw: Any, base: Path, where: str, entry: str = "line") -> Item | Failure:
    """One manifest ``entry`` (a JSONL line, a JSON list's element) as an :class:`Item` whose relative
    path is resolved against ``base``, or the :class:`Failure` saying why it is skipped."""
    try:
        item = Item.model_validate(raw)
    except ValidationError as exc:  # name the field, not the model
        said = "; ".join(f"{'.'.join(map(str, e['loc'])) or entry}: {e['msg']}" for e in exc.errors())
        return Failure(source=where, reason=f"bad manifest {entry}: {said}")
    if not item.path.is_absolute():
        item = item.model_copy(update={"path": base / item.path})
    if not item.path.is_file():
        return Failure(source=where, reason=f"{item.path}: no such file")
    return item


def _manifest(path: Path) -> tuple[list[Item], list[Failure]]:
    items, failures = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            raw = json.loads(line)
        except ValueError as exc:
            failures.append(Failure(source=where, reason=f"bad manifest line: {str(exc).splitlines()[0]}"))
            continue
        item = manifest_item(raw, path.parent, where)
        if isinstance(item, Failure):
            failures.append(item)
            continue
        if not (item.label or item.description):
            failures.append(Failure(source=where, reason="needs a label or a description"))
            continue
        items.append(item)
    return items, failures


def _folder(root: Path) -> tuple[list[Item], list[Failure]]:
    items = []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(p for p in class_dir.rglob("*") if p.is_file())
        stems = {p.with_suffix("") for p in files if p.suffix.lower() != ".txt"}
        for path in files:
            if path.suffix.lower() == ".txt" and path.with_suffix("") in stems:
                continue  # a sample's description, not a sample
            txt = path.with_suffix(".txt")
            description = None
            if txt.is_file() and txt != path:
                first = txt.read_text(encoding="utf-8", errors="replace").strip().splitlines()
                description = first[0].strip() if first else None
            items.append(Item(path=path, label=class_dir.name, description=description or None))
    return items, []


def _share_instance_descriptions(items: list[Item]) -> None:
    """An instance's description serves its modalities that have none of their own."""
    by_instance: dict[str, str] = {}
    for item in items:
        if item.instance and item.description:
            by_instance.setdefault(item.instance, item.description)
    for i, item in enumerate(items):
        if item.instance and not item.description and item.instance in by_instance:
            items[i] = item.model_copy(update={"description": by_instance[item.instance]})


def smallest_validated_class(fraction: float, min_val_per_class: int) -> int | None:
    """The fewest instances a class needs for :func:`split_instances` to validate at ``fraction`` (None: never)."""
    for n in range(2, 100_000):
        take = round(fraction * n)
        if take >= min_val_per_class and n - take >= min_val_per_class:
            return n
    return None


def split_instances(items: Sequence[Item], fraction: float, seed: int, *,
                    min_val_per_class: int = 1) -> tuple[set[str], set[str]]:
    """Train and val instance keys, stratified by label; one instance never straddles the split.

    With too little data to validate on (some class would get fewer than
    ``min_val_per_class`` val instances, or keep fewer than that many for
    training), everything trains and the val set is empty: early stopping
    on a handful of items stops at random.
    """
    by_label: dict[str, list[str]] = defaultdict(list)
    seen: set[str] = set()
    for item in items:
        if item.key not in seen:
            seen.add(item.key)
            by_label[item.label or ""].append(item.key)
    generator = torch.Generator().manual_seed(seed)
    train, val = set(), set()
    takes = {label: round(fraction * len(keys)) if len(keys) > 1 else 0 for label, keys in by_label.items()}
    if fraction > 0 and any(take < min_val_per_class or len(by_label[label]) - take < min_val_per_class
                            for label, take in takes.items()):
        return set(seen), set()
    for label in sorted(by_label):
        keys = sorted(by_label[label])
        order = torch.randperm(len(keys), generator=generator).tolist()
        take = round(fraction * len(keys)) if len(keys) > 1 else 0
        val.update(keys[i] for i in order[:take])
        train.update(keys[i] for i in order[take:])
    return train, val
