"""Everything measured on one state of the space (e.g. before or after training), from embeddings.

A :class:`Stage` is precomputed: embedded sets (one per modality) and class
scorers (name -> function from embeddings to ``[N, C]`` class scores, such
as the template mean or ECL centres). :func:`evaluate_stage` needs no
model, so it is tested on synthetic embeddings and runs on any space;
:func:`stage_from_space` builds a stage from a :class:`~unibind.space.Space`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, Field

from unibind.evaluation.gap import GapResult, measure_gap
from unibind.evaluation.retrieval import DEFAULT_RECALL_KS, gallery_shares, modality_shares, ranking, recall_at_k

Scorer = Callable[[torch.Tensor], torch.Tensor]
#: A stage's scorer: one for every modality, or modality -> scorer (a trained space's own centre sets).
AnyScorer = Scorer | Mapping[str, Scorer]


def score(scorer: AnyScorer, vectors: torch.Tensor, modalities: str | Sequence[str]) -> torch.Tensor:
    """Class scores ``[N, C]``; a per-modality scorer scores each row with its own modality's."""
    if not isinstance(scorer, Mapping):
        return scorer(vectors)
    if isinstance(modalities, str):
        return scorer[modalities](vectors)
    out: torch.Tensor | None = None
    for m in dict.fromkeys(modalities):
        rows = torch.tensor([i for i, mod in enumerate(modalities) if mod == m])
        part = scorer[m](vectors[rows])
        if out is None:
            out = torch.empty(len(modalities), part.shape[1])
        out[rows] = part
    assert out is not None
    return out


@dataclass
class EmbeddedSet:
    """Unit embeddings of one modality's items with their class names (and pair ids, when paired)."""

    modality: str
    vectors: torch.Tensor
    labels: list[str]
    names: list[str]
    items: list[Any] | None = None
    pair_ids: list[Any] | None = None   # same id in two sets: the same instance


@dataclass
class Stage:
    title: str
    sets: list[EmbeddedSet]
    class_names: list[str]
    scorers: dict[str, AnyScorer]
    prompts: torch.Tensor | None = None   # [C, d] canonical-prompt embeddings, drawn in the t-SNE map
    logit_scale: float = 100.0            # probabilities = softmax(scale x cosine), as Space.classify does


class AccuracyRow(BaseModel):
    modality: str
    method: str
    accuracy: float
    balanced_accuracy: float | None = Field(default=None, description="Mean recall over the classes with items "
                                            "(scikit-learn's balanced_accuracy_score).")
    items: int


class RecallRow(BaseModel):
    query: str
    gallery: str
    relevance: str = Field(description="class: same class; pair: the paired item of the same instance.")
    method: str = ""
    recall: dict[int, float]
    queries: int
    gallery_size: int | None = Field(default=None, description="Items ranked per query: R@K with K >= this is "
                                     "always 1 and not shown.")


class BalanceRow(BaseModel):
    method: str
    k: int
    shares: dict[str, float]


class StageResult(BaseModel):
    title: str
    accuracy: list[AccuracyRow]
    retrieval: list[RecallRow]
    balance: list[BalanceRow]
    gallery_shares: dict[str, float]
    pictures: dict[str, str] = Field(default_factory=dict, description="Name -> PNG file name.")
    gap: GapResult | None = Field(default=None, description="Modality gap, alignment, uniformity (with prompts).")


def evaluate_stage(stage: Stage, *, recall_ks: Sequence[int] = DEFAULT_RECALL_KS,
                   balance_ks: Sequence[int] = (5, 10, 20)) -> StageResult:
    """Zero-shot accuracy, recall@K both ways (text <-> each modality, modality <-> modality), balance."""
    classes = stage.class_names
    accuracy, retrieval, balance = [], [], []
    for s in stage.sets:
        for method, scorer in stage.scorers.items():
            scores = score(scorer, s.vectors, s.modality)
            truth = torch.tensor([classes.index(label) for label in s.labels])
            accuracy.append(AccuracyRow(modality=s.modality, method=method, items=len(s.labels),
                                        accuracy=float((scores.argmax(1) == truth).float().mean()),
                                        balanced_accuracy=balanced_accuracy(truth, scores.argmax(1))))
            present = [c for c, name in enumerate(classes) if name in set(s.labels)]  # classes with items here
            retrieval.append(RecallRow(query="text", gallery=s.modality, relevance="class", method=method,
                                       recall=recall_at_k(scores.T[present], [classes[c] for c in present],
                                                          s.labels, recall_ks), queries=len(present),
                                       gallery_size=len(s.labels)))
            retrieval.append(RecallRow(query=s.modality, gallery="text", relevance="class", method=method,
                                       recall=recall_at_k(scores, s.labels, classes, recall_ks),
                                       queries=len(s.labels), gallery_size=len(classes)))
    for a in stage.sets:
        for b in stage.sets:
            if a is b:
                continue
            sims = a.vectors @ b.vectors.T
            retrieval.append(RecallRow(query=a.modality, gallery=b.modality, relevance="class",
                                       recall=recall_at_k(sims, a.labels, b.labels, recall_ks), queries=len(a.labels),
                                       gallery_size=len(b.labels)))
            if a.pair_ids is not None and b.pair_ids is not None:
                # only queries whose partner is in the gallery (224 photos, 54 with a sound)
                partners = set(b.pair_ids)
                rows = [n for n, p in enumerate(a.pair_ids) if p in partners]
                if rows:
                    retrieval.append(RecallRow(
                        query=a.modality, gallery=b.modality, relevance="pair", queries=len(rows),
                        gallery_size=len(b.labels),
                        recall=recall_at_k(sims[rows], [a.pair_ids[n] for n in rows], b.pair_ids, recall_ks)))
    gallery, modalities = _gallery(stage)
    if len(set(modalities)) > 1:
        for method, scorer in stage.scorers.items():
            scores = score(scorer, gallery, modalities).T
            balance += [BalanceRow(method=method, k=k, shares=modality_shares(scores, modalities, k))
                        for k in balance_ks]
    gap = (measure_gap([(s.modality, s.vectors, s.labels) for s in stage.sets], stage.prompts, classes)
           if stage.prompts is not None else None)
    return StageResult(title=stage.title, accuracy=accuracy, retrieval=retrieval, balance=balance,
                       gallery_shares=gallery_shares(modalities), gap=gap)


def balanced_accuracy(truth: torch.Tensor, predicted: torch.Tensor) -> float:
    """Mean per-class recall over the classes that have items (a prediction of an absent class counts wrong)."""
    import warnings

    from sklearn.metrics import balanced_accuracy_score

    with warnings.catch_warnings():  # "y_pred contains classes not in y_true": expected, those count as wrong
        warnings.simplefilter("ignore", UserWarning)
        return float(balanced_accuracy_score(truth.numpy(), predicted.numpy()))


def draw_stage(stage: Stage, out_dir: str | Path, slug: str, *, grid_queries: int = 4, grid_k: int = 6,
               tsne_max: int = 600, seed: int = 0) -> dict[str, str]:
    """The stage's t-SNE map and retrieval grid as PNG files in ``out_dir``; returns name -> file name."""
    from unibind.evaluation.pictures import plot_projection, plot_retrieval_grid, tsne_2d

    out_dir = Path(out_dir)
    vectors, labels, modalities = [], [], []
    gen = torch.Generator().manual_seed(seed)
    for s in stage.sets:
        keep = torch.randperm(len(s.labels), generator=gen)[:tsne_max].sort().values
        vectors.append(s.vectors[keep])
        labels += [s.labels[i] for i in keep.tolist()]
        modalities += [s.modality] * len(keep)
    if stage.prompts is not None:
        vectors.append(stage.prompts)
        labels += list(stage.class_names)
        modalities += ["text"] * len(stage.class_names)
    pictures = {}
    points = tsne_2d(torch.cat(vectors), seed=seed)
    pictures["tsne"] = plot_projection(points, labels, modalities, out_dir / f"{slug}-tsne.png",
                                       title=f"t-SNE of the space: {stage.title}").name
    method, scorer = next(iter(stage.scorers.items()))
    gallery, _ = _gallery(stage)
    items = [(s, i) for s in stage.sets for i in range(len(s.labels))]
    queries = stage.class_names[:grid_queries]
    top = ranking(score(scorer, gallery, [s.modality for s in stage.sets for _ in s.labels]).T[:len(queries)],
                  grid_k)
    rows = [[{"item": s.items[i] if s.items is not None else None, "modality": s.modality, "label": s.labels[i],
              "name": s.names[i], "hit": s.labels[i] == q} for s, i in (items[j] for j in row.tolist())]
            for q, row in zip(queries, top)]
    pictures["grid"] = plot_retrieval_grid([f"text: {q}" for q in queries], rows, out_dir / f"{slug}-grid.jpg",
                                           title=f"text -> any ({method}): {stage.title}").name
    pictures.update(draw_reliability(stage, out_dir, slug))
    return pictures


def draw_reliability(stage: Stage, out_dir: str | Path, slug: str) -> dict[str, str]:
    """Reliability diagram of each set's uncalibrated class probabilities (first scorer), as PNG files."""
    from unibind.calibration.diagrams import reliability_diagram

    method, scorer = next(iter(stage.scorers.items()))
    out = {}
    for s in stage.sets:
        probs = torch.softmax(stage.logit_scale * score(scorer, s.vectors, s.modality), dim=-1)
        truth = torch.tensor([stage.class_names.index(label) for label in s.labels])
        path = Path(out_dir) / f"{slug}-{s.modality}-reliability.png"
        title = f"{s.modality}, {method}: softmax({stage.logit_scale:g} x cosine), uncalibrated"
        out[f"reliability diagram ({s.modality})"] = reliability_diagram(probs, truth, path, title=title).name
    return out


def _gallery(stage: Stage) -> tuple[torch.Tensor, list[str]]:
    vectors = torch.cat([s.vectors for s in stage.sets])
    modalities = [s.modality for s in stage.sets for _ in s.labels]
    return vectors, modalities
