"""Which stored descriptions read as another class's: a read-only audit of a knowledge base.

The generation filters check form (language, length, the class named) but not meaning: "A sandal
is a bird with bright feathers" names its class and passes. This audit embeds every description
with the space's text side and compares it with each class's centre; a description nearer to
another class's centre than to its own class's (its own centre left out of it, so it cannot vote
for itself) is reported with the class it leans to. Nothing is changed: the user decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import BaseModel

from unibind.knowledge.records import ClassRef


class Suspect(BaseModel):
    """One description nearer to another class than to its own."""

    id: int
    class_name: str
    text: str
    source: str
    leans_to: str
    own: float       # cosine to its own class's centre (itself left out)
    other: float     # cosine to the centre of ``leans_to``


class AuditReport(BaseModel):
    classes: int
    descriptions: int
    per_class: dict[str, int]          # class -> descriptions audited
    suspects: list[Suspect]


def audit_descriptions(kb: Any, embed: Any, classes: Sequence[ClassRef] | None = None, *,
                       sources: Sequence[str] | None = None, modality: str | None = None) -> AuditReport:
    """Audit the class descriptions of ``classes`` (default: every class with any) in ``kb``.

    ``embed`` maps texts to unit vectors (a :class:`~unibind.knowledge.textcache.TextEmbedder`). A class's
    centre is the mean of its descriptions; a class with a single description is represented by its name.
    Needs two classes: with one there is nothing to lean to.
    """
    records = kb.descriptions(classes, kind="class_description", sources=sources, modality=modality)
    by_class: dict[str, list[Any]] = {}
    for record in records:
        by_class.setdefault(record.class_ref.key, []).append(record)
    if len(by_class) < 2:
        bare = [c.name for c in classes or () if c.key not in by_class]
        none = f" (none for {', '.join(bare)})" if bare else ""
        raise ValueError(f"the audit compares classes: {len(by_class)} class(es) with descriptions found{none}")
    keys = list(by_class)
    names = [by_class[k][0].class_ref.name for k in keys]
    texts = [r.text for k in keys for r in by_class[k]]
    owner = torch.tensor([i for i, k in enumerate(keys) for _ in by_class[k]])
    vectors = F.normalize(embed(texts).float(), dim=-1)
    counts = torch.bincount(owner, minlength=len(keys)).float()
    sums = torch.zeros(len(keys), vectors.shape[1]).index_add_(0, owner, vectors)
    single = counts == 1
    if single.any():       # a lone description cannot be compared with the rest of its class: use the name
        sums[single] = F.normalize(embed([names[i] for i in single.nonzero().flatten().tolist()]).float(), dim=-1)
    centres = F.normalize(sums / counts.clamp(min=1).unsqueeze(1), dim=-1)
    cos = vectors @ centres.T                                                   # [N, classes]
    # the own class's centre without this description (leave one out)
    rest = sums[owner] - torch.where(single[owner].unsqueeze(1), torch.zeros_like(vectors), vectors)
    cos[torch.arange(len(texts)), owner] = (vectors * F.normalize(rest, dim=-1)).sum(1)
    own = cos[torch.arange(len(texts)), owner]
    others = cos.clone()
    others[torch.arange(len(texts)), owner] = -2.0
    best, lean = others.max(1)
    suspects = [Suspect(id=r.id, class_name=names[owner[i]], text=r.text, source=r.provenance.source,
                        leans_to=names[lean[i]], own=round(float(own[i]), 4), other=round(float(best[i]), 4))
                for i, r in enumerate(r for k in keys for r in by_class[k]) if best[i] > own[i]]
    suspects.sort(key=lambda s: s.own - s.other)
    return AuditReport(classes=len(keys), descriptions=len(texts),
                       per_class={names[i]: int(counts[i]) for i in range(len(keys))}, suspects=suspects)
