"""Retrieval metrics in the unified space: recall@K in any direction, and the modality balance.

Relevance is by label: a retrieved item is relevant when it has the query's
label. Class labels give class-level retrieval; pair ids as labels (item i
of one modality paired with item i of another) give instance retrieval.
Balance is the paper's Fig. 5 argument: for text queries over a gallery
holding several modalities, the share of each modality among the top k
items; an image-centred space fills the top k with images.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

DEFAULT_RECALL_KS = (1, 5, 10, 20)


def ranking(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Indices ``[Q, min(k, G)]`` of the best-scoring gallery items per query (ties: lower index first)."""
    k = min(k, scores.shape[1])
    return torch.sort(scores, dim=1, descending=True, stable=True).indices[:, :k]


def recall_at_k(scores: torch.Tensor, query_labels: Sequence | torch.Tensor, gallery_labels: Sequence | torch.Tensor,
                ks: Sequence[int] = DEFAULT_RECALL_KS) -> dict[int, float]:
    """Share of queries with at least one relevant item among their top K, for each K.

    ``scores`` is ``[Q, G]`` (higher is nearer). Queries with no relevant
    item in the gallery count as misses (they are not dropped).
    """
    q, g = _shared_codes(query_labels, gallery_labels)
    if scores.shape != (len(q), len(g)):
        raise ValueError(f"scores {tuple(scores.shape)} for {len(q)} queries and {len(g)} gallery items")
    top = ranking(scores, max(ks))
    hits = g[top] == q.unsqueeze(1)
    return {k: float(hits[:, :k].any(dim=1).float().mean()) for k in ks}


def modality_shares(scores: torch.Tensor, gallery_modalities: Sequence[str], k: int) -> dict[str, float]:
    """Mean share of each modality among the top ``k`` items of each query (sums to 1)."""
    names = sorted(set(gallery_modalities))
    codes = torch.tensor([names.index(m) for m in gallery_modalities])
    top = codes[ranking(scores, k)]
    counts = torch.stack([(top == i).float().mean(dim=1) for i in range(len(names))], dim=1)
    return {m: float(counts[:, i].mean()) for i, m in enumerate(names)}


def gallery_shares(gallery_modalities: Sequence[str]) -> dict[str, float]:
    """Each modality's share of the gallery: what a perfectly balanced top k would show."""
    names = sorted(set(gallery_modalities))
    return {m: sum(x == m for x in gallery_modalities) / len(gallery_modalities) for m in names}


def _shared_codes(a: Sequence | torch.Tensor, b: Sequence | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both label lists as integer codes of one shared vocabulary (strings or ints alike)."""
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.long(), b.long()
    a_list = a.tolist() if isinstance(a, torch.Tensor) else list(a)
    b_list = b.tolist() if isinstance(b, torch.Tensor) else list(b)
    index = {v: i for i, v in enumerate(dict.fromkeys([*a_list, *b_list]))}
    return torch.tensor([index[v] for v in a_list]), torch.tensor([index[v] for v in b_list])
