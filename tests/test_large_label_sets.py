"""Large label sets: label texts go through the text-embedding cache in batches; scoring is chunked.

On the old code ``class_centres`` sent every template of every label to the
encoder in one call (800,000 texts for 10,000 image labels), cached nothing,
and a second run with the same labels took as long as the first.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import unibind.space as space_module
from unibind.space import Embeddings, Space


@pytest.fixture
def counting_space(fake_text_registry, tmp_path, monkeypatch):
    """``make()``: a fresh Space on the hashing text encoder whose text calls are recorded."""
    monkeypatch.setenv("UNIBIND_CACHE_DIR", str(tmp_path / "cache"))
    registry = fake_text_registry()
    calls: list[int] = []

    def make() -> Space:
        space = Space(registry=registry)
        plain = space.embed_text

        def counted(texts):
            calls.append(len(texts))
            return plain(texts)

        space.embed_text = counted  # type: ignore[method-assign]
        return space

    return make, calls


def _labels(n: int) -> list[str]:
    return [f"synthetic label {i}" for i in range(n)]


def test_label_texts_are_embedded_in_batches_and_cached(counting_space) -> None:
    make, calls = counting_space
    labels = _labels(60)
    first = make().class_centres(labels, "image")  # 80 CLIP templates each: 4,800 texts
    assert sum(calls) == 60 * 80
    assert max(calls) <= space_module.LABEL_TEXT_BATCH and len(calls) > 10
    calls.clear()
    second = make().class_centres(labels, "image")  # a new space, the same encoder: all from the cache
    assert calls == []
    torch.testing.assert_close(first, second)


def test_centres_equal_the_mean_of_the_template_embeddings(counting_space) -> None:
    make, _ = counting_space
    space = make()
    labels = _labels(5)
    source = space.registry.get("description_source", "templates").build()
    expected = torch.stack([F.normalize(space.embed_text(source.class_descriptions(label, "audio")), dim=-1).mean(0)
                            for label in labels])
    torch.testing.assert_close(space.class_centres(labels, "audio"), F.normalize(expected, dim=-1),
                               atol=1e-6, rtol=1e-5)


def test_only_new_labels_are_encoded(counting_space) -> None:
    make, calls = counting_space
    make().class_centres(_labels(50), "event")
    calls.clear()
    make().class_centres(_labels(60), "event")
    assert sum(calls) == 10 * 3  # the 10 new labels' 3 event templates


def test_scoring_in_chunks_gives_the_same_predictions(counting_space, monkeypatch) -> None:
    make, _ = counting_space
    space = make()
    vectors = F.normalize(torch.randn(40, space.dim, generator=torch.Generator().manual_seed(0)), dim=-1)
    files = [f"f{i}.toy" for i in range(40)]
    monkeypatch.setattr(space, "embed_files", lambda paths, mod: Embeddings(vectors, list(files), mod))
    labels = _labels(500)
    whole, _ = space.classify(files, labels, modality="event", top_k=3)
    monkeypatch.setattr(space_module, "SCORING_CHUNK_BYTES", 4 * 4 * 500 * 7)  # 7 files per chunk
    chunked, _ = space.classify(files, labels, modality="event", top_k=3)
    assert [[s.label for s in p.top] for p in chunked] == [[s.label for s in p.top] for p in whole]
    assert [p.source for p in chunked] == files
    torch.testing.assert_close(torch.tensor([[s.probability for s in p.top] for p in chunked]),
                               torch.tensor([[s.probability for s in p.top] for p in whole]))  # BLAS rounding only
    assert len({p.label for p in whole}) > 1


def test_bench_label_sets_are_imagenet_names_then_synthetic_named_so() -> None:
    from unibind.labelbench import label_set

    names, kind = label_set(1000)
    assert len(set(names)) == 1000 and names[0] == "tench" and kind.startswith("ImageNet-1K")
    many, kind = label_set(10_000)
    assert len(set(many)) == 10_000 and all(n.startswith("synthetic ") for n in many) and kind.startswith("synthetic")
