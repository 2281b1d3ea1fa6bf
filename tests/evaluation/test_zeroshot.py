"""Zero-shot tables over knowledge-base methods, with a hashing text encoder and synthetic queries."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from unibind.evaluation.runner import ensure_kb, write_results
from unibind.evaluation.zeroshot import (
    ZeroShotResult,
    accuracy,
    evaluate_methods,
    kb_source_counts,
    plan_methods,
    to_markdown,
)
from unibind.knowledge.store import KnowledgeBase

from .conftest import CLASSES


def test_plan_methods_has_a_row_for_expected_sources_even_when_absent():
    titles = [m.title for m in plan_methods({"wordnet": 80}, ks=(5, 50))]
    assert titles == ["class name", "template mean", "WordNet mean", "LLM (transformers) mean",
                      "all descriptions mean", "ECL k=5", "ECL k=50", "ECL k=50, WordNet only"]
    extra = [m for m in plan_methods({"templates": 1, "my-llm": 3}) if m.sources == ["my-llm"]]
    assert [m.title for m in extra] == ["my-llm mean", "ECL k=50, my-llm only"]
    assert extra[1].method == "ecl" and extra[1].k == 50


def test_several_description_sources_each_get_ecl_at_every_k():
    # with WordNet and Gemma in one KB, "ECL k=5, LLM only" is the paper's ECL over the LLM texts;
    # one k=50 row per source would be just their maximum when a class has 20 of them
    methods = plan_methods({"templates": 80, "wordnet": 9, "llm-transformers": 20}, ks=(5, 10, 50))
    llm = [m for m in methods if m.method == "ecl" and m.sources == ["llm-transformers"]]
    assert [(m.title, m.k) for m in llm] == [("ECL k=5, LLM (transformers) only", 5),
                                             ("ECL k=10, LLM (transformers) only", 10),
                                             ("ECL k=50, LLM (transformers) only", 50)]
    assert "the 5 LLM (transformers) descriptions nearest 'a photo of a {}.'" in llm[0].what
    assert [m.k for m in methods if m.sources == ["wordnet"] and m.method == "ecl"] == [5, 10, 50]


def test_ecl_rows_choose_among_descriptions_and_say_so():
    methods = {m.title: m for m in plan_methods({"templates": 80, "wordnet": 9}, ks=(5, 50), modality="image")}
    # the paper's ECL: no source named means every description source but the templates
    assert methods["ECL k=5"].sources == [] and "every source but templates" in methods["ECL k=5"].what
    assert "'a photo of a {}.'" in methods["ECL k=5"].what
    assert methods["template mean"].what.startswith("1 centre: mean of the 80 image prompt templates")
    # templates in the knowledge base get one row of their own, named as such
    mixed = methods["ECL k=50, descriptions + templates"]
    assert mixed.sources == ["templates", "wordnet"] and "not the paper's ECL" in mixed.what
    assert "ECL k=50, templates only" not in methods
    assert all(m.what for m in methods.values())
    without = [m.title for m in plan_methods({"wordnet": 9}, ks=(50,))]
    assert "ECL k=50, descriptions + templates" not in without


def test_accuracy_and_balanced_accuracy_hand_computed():
    scores = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    # truth 0,0,1,1; predictions 0,0,0,1: top-1 3/4; recalls 1.0 and 0.5
    top1, balanced, hits = accuracy(scores, torch.tensor([0, 0, 1, 1]))
    assert (top1, balanced, hits) == (0.75, 0.75, 3)
    top1, balanced, _ = accuracy(scores[:3], torch.tensor([0, 0, 1]))   # recalls 1.0 and 0.0
    assert top1 == pytest.approx(2 / 3) and balanced == pytest.approx(0.5)


def test_evaluate_methods_rows(kb_path, embedder):
    # synthetic queries: each class's canonical prompt embedded by the hashing encoder, plus noise
    prompts = embedder([f"a photo of a {c.text_name}." for c in CLASSES])
    gen = torch.Generator().manual_seed(0)
    queries = F.normalize(prompts.repeat(4, 1) + 0.05 * torch.randn(12, prompts.shape[1], generator=gen), dim=-1)
    labels = torch.arange(3).repeat(4)
    with KnowledgeBase(kb_path, create=False) as kb:
        assert set(kb_source_counts(kb, CLASSES, "image")) == {"scripted", "templates"}
        rows = evaluate_methods(queries, labels, CLASSES, embedder=embedder, kb=kb, ks=(5, 100))
    by = {r.title: r for r in rows}
    assert by["WordNet mean"].status == "not in KB" and by["WordNet mean"].accuracy is None
    assert by["scripted mean"].status == "ok" and by["scripted mean"].centres_per_class == (1, 1)
    assert by["template mean"].accuracy == 1.0          # the prompts are among the templates
    ecl5, ecl100 = by["ECL k=5"], by["ECL k=100"]
    assert ecl5.centres_per_class == (5, 5)
    # every class has 80 templates + ~22 kept scripted texts (30 items minus rejects/repeats): ECL takes the
    # descriptions only, as many as there are; with the templates let in it reaches 100
    assert ecl100.centres_per_class[1] < 30
    assert ecl100.centres_per_class == by["ECL k=100, scripted only"].centres_per_class
    assert by["ECL k=100, descriptions + templates"].centres_per_class == (100, 100)
    assert ecl5.accuracy == 1.0 and ecl5.total == 12 and ecl5.correct == 12
    markdown = to_markdown(ZeroShotResult(dataset="synthetic", modality="image", classes=["dog", "cat", "red_fox"],
                                          items=12, rows=rows))
    assert "| ECL k=5 | 5 | 100.0 | 100.0 | +0.0 | ECL: the 5 descriptions (every source but templates)" in markdown
    assert "| WordNet mean | – | not in KB | – | – | 1 centre: mean of the class's WordNet descriptions" in markdown


def test_ecl_on_a_kb_of_templates_only_is_not_in_kb(tmp_path, registry, embedder):
    from unibind.knowledge.builder import build_knowledge_base

    with KnowledgeBase(tmp_path / "kb.sqlite") as kb:
        build_knowledge_base(kb, CLASSES, [("templates", None)], per_class=5, modality="image", registry=registry)
        rows = {r.title: r for r in evaluate_methods(embedder(["a dog", "a cat"]), [0, 1], CLASSES,
                                                     embedder=embedder, kb=kb, ks=(5,))}
    assert rows["ECL k=5"].status == "not in KB" and "no descriptions" in rows["ECL k=5"].detail
    assert rows["all descriptions mean"].status == "not in KB"
    assert rows["template mean"].status == "ok" and rows["ECL k=5, descriptions + templates"].status == "ok"


def test_a_source_covering_only_some_classes_still_runs_with_the_prompt_standing_in(tmp_path, registry, embedder):
    from unibind.knowledge.builder import build_knowledge_base

    with KnowledgeBase(tmp_path / "kb.sqlite") as kb:
        build_knowledge_base(kb, CLASSES, [("templates", None)], per_class=5, modality="image", registry=registry)
        build_knowledge_base(kb, CLASSES[:1], [("scripted", {"items": 4})], per_class=5, registry=registry)
        rows = {r.title: r for r in evaluate_methods(embedder(["a dog", "a cat"]), [0, 1], CLASSES,
                                                     embedder=embedder, kb=kb, ks=(5,))}
    scripted = rows["scripted mean"]
    assert scripted.status == "ok" and scripted.accuracy is not None and scripted.total == 2
    assert scripted.detail == "scripted texts for 1 of 3 classes; the canonical prompt stands in for the others"
    assert rows["template mean"].status == "ok" and rows["template mean"].detail in (None, "")
    assert rows["WordNet mean"].status == "not in KB"


def test_evaluate_methods_checks_lengths(kb_path, embedder):
    with KnowledgeBase(kb_path, create=False) as kb, pytest.raises(ValueError, match="3 embeddings but 2 labels"):
        evaluate_methods(torch.zeros(3, 64), [0, 1], CLASSES, embedder=embedder, kb=kb)


def test_ensure_kb_builds_installed_sources_and_reports_missing(tmp_path, registry):
    path = tmp_path / "kb.sqlite"
    status = ensure_kb(path, CLASSES[:2], ["templates", "wordnet-not-here", "scripted:items=5"], per_class=10,
                       registry=registry)
    assert status["wordnet-not-here"] == "not installed"
    assert status["templates"] == "20 kept"            # 10 per class, 2 classes
    assert status["scripted"].endswith("kept")
    again = ensure_kb(path, CLASSES[:2], ["templates"], per_class=10, registry=registry)
    assert again["templates"] == "20 kept"             # resumed: finished jobs are counted, nothing duplicated
    with KnowledgeBase(path, create=False) as kb:
        assert kb_source_counts(kb, CLASSES[:2], "image")["templates"] == 20


def test_write_results(tmp_path):
    result = ZeroShotResult(dataset="synthetic", modality="image", classes=["a", "b"], items=2, rows=[],
                            command="unibind eval zeroshot --data x")
    json_path, md_path = write_results([result], tmp_path)
    assert ZeroShotResult.model_validate_json(json_path.read_text()[1:-1].strip()) == result
    assert "Reproduce: `unibind eval zeroshot --data x`" in md_path.read_text()
