"""Retrieval metrics on synthetic embeddings (made up here, named as such) with hand-computed answers."""

from __future__ import annotations

import pytest
import torch

from unibind.evaluation.retrieval import gallery_shares, modality_shares, ranking, recall_at_k


def test_recall_at_k_hand_computed():
    # synthetic scores, 3 queries x 5 gallery items; relevance by label
    scores = torch.tensor([[0.9, 0.1, 0.8, 0.2, 0.0],    # order 0,2,3,1,4 -> labels a,b,b,a,c; query a: hit at 1
                           [0.9, 0.1, 0.8, 0.2, 0.0],    # query b: first b at rank 2
                           [0.5, 0.4, 0.3, 0.2, 0.1]])   # order 0..4 -> query c: first c at rank 5
    gallery = ["a", "a", "b", "b", "c"]
    queries = ["a", "b", "c"]
    got = recall_at_k(scores, queries, gallery, ks=(1, 2, 4, 5))
    assert got == pytest.approx({1: 1 / 3, 2: 2 / 3, 4: 2 / 3, 5: 1.0})


def test_recall_counts_queries_without_relevant_items_as_misses():
    scores = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert recall_at_k(scores, ["x", "zebra"], ["x", "y"], ks=(1, 2)) == {1: 0.5, 2: 0.5}


def test_recall_shares_one_label_vocabulary_between_sides():
    # the gallery lists labels in another order than the queries: codes must still agree
    scores = torch.eye(3)
    assert recall_at_k(scores, ["c", "b", "a"], ["c", "b", "a"], ks=(1,))[1] == 1.0
    assert recall_at_k(scores, [2, 1, 0], [0, 1, 2], ks=(1,))[1] == pytest.approx(1 / 3)


def test_recall_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="3 queries"):
        recall_at_k(torch.zeros(2, 2), ["a", "b", "c"], ["a", "b"])


def test_ranking_breaks_ties_by_index_and_caps_k():
    assert ranking(torch.tensor([[0.5, 0.5, 0.9]]), 10).tolist() == [[2, 0, 1]]


def test_modality_shares_and_gallery_shares():
    # synthetic: 2 text queries over 2 images + 2 sounds; query 0 ranks image, image, sound; query 1 sound first
    scores = torch.tensor([[0.9, 0.8, 0.7, 0.1],
                           [0.1, 0.2, 0.9, 0.8]])
    mods = ["image", "image", "audio", "audio"]
    assert modality_shares(scores, mods, 2) == pytest.approx({"audio": 0.5, "image": 0.5})
    assert modality_shares(scores, mods, 3) == pytest.approx({"audio": (1 / 3 + 2 / 3) / 2, "image": 0.5})
    assert modality_shares(scores[:1], mods, 2) == pytest.approx({"audio": 0.0, "image": 1.0})
    assert gallery_shares(["image", "audio", "audio", "audio"]) == {"audio": 0.75, "image": 0.25}
