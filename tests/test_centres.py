"""Embedding Center Localization: segmented scoring, localization, baselines, files, CLI, benchmark."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from unibind.errors import InputError
from unibind.knowledge.builder import build_knowledge_base
from unibind.knowledge.centres import (
    CentreSet,
    CentreSettings,
    Scorer,
    bench_centres,
    centre_tensor,
    localize,
    score_centres,
)
from unibind.knowledge.records import ClassRef, Description, Provenance
from unibind.knowledge.store import KnowledgeBase
from unibind.knowledge.templates import TemplateSource
from unibind.knowledge.testing import scripted_source_spec
from unibind.knowledge.textcache import TextEmbedder

CLASSES = [ClassRef(name="dog", class_id="n02084071"), ClassRef(name="cat"), ClassRef(name="red_fox")]


@pytest.fixture
def registry(fake_text_registry):
    return fake_text_registry(scripted_source_spec())


@pytest.fixture
def kb(tmp_path, registry):
    store = KnowledgeBase(tmp_path / "kb.sqlite")
    build_knowledge_base(store, CLASSES, [("scripted", {"items": 60})], per_class=100, registry=registry)
    build_knowledge_base(store, CLASSES[:2], [("templates", None)], per_class=100, registry=registry)
    yield store
    store.close()


@pytest.fixture
def embedder(tmp_path, registry):
    from unibind.space import Space

    return TextEmbedder.from_space(Space(registry=registry, text_encoder="hashing"), cache=tmp_path / "cache.sqlite")


def _ragged(seed=0, classes=7, width=6, dim=16):
    gen = torch.Generator().manual_seed(seed)
    groups = [torch.randn(int(torch.randint(1, width + 1, (1,), generator=gen)), dim, generator=gen)
              for _ in range(classes)]
    queries = torch.randn(53, dim, generator=gen)
    return groups, queries


def _brute(groups, queries, reduce, t=0.05):
    q = F.normalize(queries, dim=-1)
    cols = []
    for g in groups:
        sims = q @ F.normalize(g, dim=-1).T
        if reduce == "max":
            cols.append(sims.max(1).values)
        elif reduce == "mean":
            cols.append(sims.mean(1))
        else:
            cols.append(t * (torch.logsumexp(sims / t, 1) - torch.log(torch.tensor(float(g.shape[0])))))
    return torch.stack(cols, 1)


def test_centre_tensor_pads_with_a_real_centre_and_masks_the_padding():
    groups, _ = _ragged()
    centres, mask = centre_tensor(groups)
    assert centres.shape == (7, max(g.shape[0] for g in groups), 16)
    assert mask.sum(1).tolist() == [g.shape[0] for g in groups]
    for c, g in enumerate(groups):
        padding = centres[c, g.shape[0]:]
        assert torch.allclose(padding, F.normalize(g[0], dim=-1).expand_as(padding))
    with pytest.raises(ValueError):
        centre_tensor([torch.empty(0, 16)])


@pytest.mark.parametrize("reduce", ["max", "mean", "softmax"])
@pytest.mark.parametrize("chunk_bytes", [1, 4 * 6 * 7 * 5, 1 << 26])   # 1 query, 5 queries, all at once
def test_segmented_scoring_equals_a_per_class_loop(reduce, chunk_bytes):
    groups, queries = _ragged(seed=3)
    centres, mask = centre_tensor(groups)
    got = score_centres(queries, centres, mask, reduce=reduce, temperature=0.05, chunk_bytes=chunk_bytes)
    assert torch.allclose(got, _brute(groups, queries, reduce), atol=1e-5)


def test_softmax_lies_between_mean_and_max_and_tends_to_each():
    groups, queries = _ragged(seed=5)
    centres, mask = centre_tensor(groups)
    hi, lo = _brute(groups, queries, "max"), _brute(groups, queries, "mean")
    soft = score_centres(queries, centres, mask, reduce="softmax", temperature=0.1)
    assert bool(((soft <= hi + 1e-5) & (soft >= lo - 1e-5)).all())
    cold = score_centres(queries, centres, mask, reduce="softmax", temperature=1e-3)
    hot = score_centres(queries, centres, mask, reduce="softmax", temperature=1e3)
    assert torch.allclose(cold, hi, atol=5e-3) and torch.allclose(hot, lo, atol=1e-3)


def test_scorer_streams_chunks_within_its_budget():
    groups, queries = _ragged(seed=1, classes=50, width=8, dim=8)
    centres, mask = centre_tensor(groups)
    scorer = Scorer(centres, mask, "max", chunk_bytes=4 * 50 * 8 * 10)
    assert scorer.rows == 10
    starts = [start for start, _ in scorer.iter_chunks(queries)]
    assert starts == list(range(0, 53, 10))
    assert torch.allclose(torch.cat([s for _, s in scorer.iter_chunks(queries)]), scorer(queries))


def test_ecl_keeps_the_top_k_descriptions_nearest_the_canonical_prompt(kb, embedder):
    centres = localize(CLASSES, embedder, CentreSettings(k=10, modality="image"), kb=kb)
    assert centres.labels == ["dog", "cat", "red_fox"] and centres.counts == [10, 10, 10]
    for c, ref in enumerate(CLASSES):
        prompt = embedder([f"a photo of a {ref.text_name}."])[0]
        candidates = [d for d in kb.descriptions([ref], modality="image") if d.provenance.source != "templates"]
        sims = embedder([d.text for d in candidates]) @ prompt
        want = sorted(range(len(candidates)), key=lambda i: (-float(sims[i]), i))[:10]
        chosen = centres.meta.classes[c]
        assert [t.id for t in chosen.texts] == [candidates[i].id for i in want]
        assert chosen.candidates == len(candidates) and chosen.prompt == f"a photo of a {ref.text_name}."
        assert torch.allclose(centres.centres[c], embedder([candidates[i].text for i in want]), atol=1e-6)
    # ECL chooses among descriptions (the paper): the templates stored for dog and cat are not candidates
    assert all(t.source == "scripted" for c in centres.meta.classes for t in c.texts)


def test_templates_count_in_ecl_only_when_named(kb, embedder):
    named = localize(CLASSES[:2], embedder, CentreSettings(k=10, sources=["templates", "scripted"]), kb=kb)
    # "a photo of a dog." is itself a template: named, the templates win the nearest slots
    assert {t.source for t in named.meta.classes[0].texts} == {"templates"}
    assert named.meta.classes[0].candidates == kb.count([CLASSES[0]])
    default = localize(CLASSES[:2], embedder, CentreSettings(k=10), kb=kb)
    assert default.meta.classes[0].candidates == kb.count([CLASSES[0]], sources=["scripted"])
    only = localize(CLASSES[:2], embedder, CentreSettings(method="mean"), kb=kb)
    assert only.meta.classes[0].texts[0].source == "scripted"   # the description mean leaves them out too


def test_sources_restrict_and_k_beyond_the_store_takes_everything(kb, embedder):
    only = localize(CLASSES, embedder, CentreSettings(k=500, sources=["scripted"]), kb=kb)
    assert only.counts == [kb.count([ref], sources=["scripted"]) for ref in CLASSES]
    assert all(t.source == "scripted" for c in only.meta.classes for t in c.texts)
    audio = localize(CLASSES[:1], embedder, CentreSettings(k=500, modality="audio"), kb=kb)
    assert audio.counts == [kb.count([CLASSES[0]], sources=["scripted"])]   # image templates are left out
    with_prompt = localize(CLASSES, embedder, CentreSettings(k=3, include_prompt=True), kb=kb)
    assert with_prompt.counts == [4, 4, 4]
    assert with_prompt.meta.classes[2].texts[0].source == "canonical-prompt"


def test_baselines_share_the_code_path(kb, embedder):
    name = localize(CLASSES, embedder, CentreSettings(method="name"))
    assert name.counts == [1, 1, 1]
    assert torch.allclose(name.centres[2, 0], embedder(["red fox"])[0])
    templates = localize(CLASSES, embedder, CentreSettings(method="templates", modality="audio"))
    want = F.normalize(embedder(TemplateSource().class_descriptions("dog", "audio")).mean(0), dim=-1)
    assert torch.allclose(templates.centres[0, 0], want, atol=1e-6)
    mean = localize(CLASSES, embedder, CentreSettings(method="mean", sources=["scripted"]), kb=kb)
    texts = [d.text for d in kb.descriptions([CLASSES[1]], sources=["scripted"])]
    assert torch.allclose(mean.centres[1, 0], F.normalize(embedder(texts).mean(0), dim=-1), atol=1e-6)
    queries = torch.randn(9, embedder.dim)
    for centres in (name, templates, mean):   # one centre per class: every reduction is the plain cosine
        plain = F.normalize(queries, dim=-1) @ centres.centres[:, 0].T
        for reduce in ("max", "mean", "softmax"):
            assert torch.allclose(centres.score(queries, reduce=reduce), plain, atol=1e-5)


def test_a_class_without_descriptions_fails_or_falls_back_to_its_prompt(kb, embedder):
    wolf = ClassRef(name="wolf")
    with pytest.raises(InputError, match="wolf"):
        localize([CLASSES[0], wolf], embedder, CentreSettings(), kb=kb)
    centres = localize([CLASSES[0], wolf], embedder, CentreSettings(on_empty="prompt"), kb=kb)
    assert centres.meta.classes[1].fallback and centres.counts[1] == 1
    assert torch.allclose(centres.centres[1, 0], embedder(["a photo of a wolf."])[0])


def test_a_second_localization_encodes_nothing(kb, tmp_path, registry):
    from unibind.space import Space

    first = TextEmbedder.from_space(Space(registry=registry, text_encoder="hashing"), cache=tmp_path / "c.sqlite")
    a = localize(CLASSES, first, CentreSettings(k=5), kb=kb)
    assert first.encoded > 0
    second = TextEmbedder.from_space(Space(registry=registry, text_encoder="hashing"), cache=tmp_path / "c.sqlite")
    b = localize(CLASSES, second, CentreSettings(k=20), kb=kb)   # another k: same texts, all cached
    assert second.encoded == 0 and second.looked_up > 0
    assert torch.equal(b.centres[:, :5], a.centres)
    print(f"first localization encoded {first.encoded} texts, the second {second.encoded}")


def test_centres_round_trip_through_safetensors(kb, embedder, tmp_path):
    centres = localize(CLASSES, embedder, CentreSettings(k=7, reduce="softmax", temperature=0.2), kb=kb)
    path = centres.save(tmp_path / "out" / "centres.safetensors")
    assert [p.name for p in path.parent.iterdir()] == ["centres.safetensors"]   # no temporary file left
    loaded = CentreSet.load(path)
    assert torch.equal(loaded.centres, centres.centres) and torch.equal(loaded.mask, centres.mask)
    assert loaded.meta == centres.meta and loaded.meta.encoder["encoder"] == "hashing"
    queries = torch.randn(4, embedder.dim)
    assert torch.allclose(loaded.score(queries), score_centres(queries, centres.centres, centres.mask,
                                                                reduce="softmax", temperature=0.2))
    picked = loaded.select(["red_fox", "N02084071".lower()])
    assert picked.labels == ["red_fox", "dog"] and torch.equal(picked.centres[0], centres.centres[2])
    with pytest.raises(InputError, match="'wolf'"):
        loaded.select(["wolf"])
    loaded.check_encoder(embedder.hash)
    with pytest.raises(InputError, match="rebuild"):
        loaded.check_encoder("0" * 24)
    with pytest.raises(ValueError, match="16-d"):
        loaded.score(torch.randn(2, 16))


def test_loading_refuses_other_files(tmp_path):
    from unibind.atomic import save_tensors

    plain = save_tensors({"embeddings": torch.zeros(2, 3)}, tmp_path / "emb.safetensors")
    with pytest.raises(InputError, match="not a UniBind centres file"):
        CentreSet.load(plain)
    from unibind.knowledge.centres import CentreClass, CentreMeta, CentreText

    centres, mask = centre_tensor([torch.randn(2, 8), torch.randn(1, 8)])
    texts = [[CentreText(text="a1", source="s"), CentreText(text="a2", source="s")],
             [CentreText(text="b1", source="s")]]
    meta = CentreMeta(settings=CentreSettings(), encoder={"encoder": "x"}, encoder_hash="x", dim=8,
                      classes=[CentreClass(name=n, texts=t) for n, t in zip("ab", texts)])
    good = CentreSet(centres, mask, meta).save(tmp_path / "good.safetensors")
    assert CentreSet.load(good).counts == [2, 1]
    centres[1, 1] = 0.0   # zero padding would beat every negative cosine under max
    bad = CentreSet(centres, mask, meta).save(tmp_path / "bad.safetensors")
    with pytest.raises(InputError, match="padding"):
        CentreSet.load(bad)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(InputError):
        CentreSet.load(junk)


@pytest.mark.slow
def test_ecl_on_the_real_text_encoder_filters_off_topic_descriptions(tmp_path):
    """all-MiniLM-L6-v2 (the shipped weights, read with plain transformers and mean pooling, which gives
    the sentence-transformers embeddings without importing that library): localization keeps a class's
    on-topic descriptions."""
    from unibind.encoders.text import minilm_path

    on_topic = {"dog": ["a dog wagging its tail in the garden", "a puppy chewing a bone",
                        "a loyal dog fetching a stick"],
                "car": ["a red car parked on the street", "a sports car driving on a highway",
                        "an old car with rusty doors"]}
    off_topic = ["a spreadsheet of quarterly revenue figures", "the rules of a chess opening",
                 "a recipe for lemon cake"]
    with KnowledgeBase(tmp_path / "kb.sqlite") as store:
        for name, texts in on_topic.items():
            for text in texts + off_topic:
                store.add(Description(class_name=name, text=text,
                                      provenance=Provenance(source="manual", settings_hash="-")))
        from unibind.space import Space

        space = Space(text_encoder="hf-text", settings={"hf-text": {"model": str(minilm_path()), "pooling": "mean"}})
        embedder = TextEmbedder.from_space(space, cache=tmp_path / "cache.sqlite")
        refs = [ClassRef(name="dog"), ClassRef(name="car")]
        centres = localize(refs, embedder, CentreSettings(k=3), kb=store)
    for c, name in enumerate(["dog", "car"]):
        chosen = [t.text for t in centres.meta.classes[c].texts]
        print(name, [(t.text, t.similarity) for t in centres.meta.classes[c].texts])
        assert sorted(chosen) == sorted(on_topic[name])
    queries = embedder(["a photo of a golden retriever", "a photo of a sedan"])
    assert centres.score(queries).argmax(1).tolist() == [0, 1]


def test_kb_centres_cli_saves_loadable_centres_and_reuses_the_cache(kb, tmp_path, registry):
    from unibind_cli.kb import kb as kb_cli

    out, cache = tmp_path / "centres.safetensors", tmp_path / "cli-cache.sqlite"
    args = ["centres", "--kb", str(kb.path), "--classes", "dog,red_fox", "--k", "5", "--out", str(out),
            "--text-encoder", "hashing", "--cache", str(cache)]
    runner = CliRunner()
    first = runner.invoke(kb_cli, args)
    assert first.exit_code == 0, first.output
    loaded = CentreSet.load(out)
    assert loaded.labels == ["dog", "red_fox"] and loaded.counts == [5, 5]
    assert loaded.meta.classes[0].class_id == "n02084071"
    second = runner.invoke(kb_cli, args)
    assert second.exit_code == 0 and ", 0 encoded" in second.output
    baseline = runner.invoke(kb_cli, ["centres", "--kb", str(kb.path), "--classes", "dog,cat", "--method",
                                      "templates", "--out", str(tmp_path / "t.safetensors"),
                                      "--cache", str(cache)])
    assert baseline.exit_code == 0 and "method templates" in baseline.output
    missing = runner.invoke(kb_cli, ["centres", "--kb", str(kb.path), "--classes", "wolf", "--out",
                                     str(tmp_path / "w.safetensors"), "--text-encoder", "hashing"])
    assert missing.exit_code != 0 and "wolf" in missing.output


def test_bench_centres_reports_a_ratio_and_agrees_with_the_masked_reference():
    figures = bench_centres(classes=40, k=10, dim=32, queries=3000, chunk_bytes=4 * 400 * 64)
    assert figures["agrees_with_reference"] is True
    assert figures["chunk_rows"] == 64 and figures["chunks"] == 47
    assert figures["ratio"] > 0 and figures["ours_queries_per_s"] > 0
    assert figures["chunk_bytes"] == 4 * 64 * 40 * 11
    print(json.dumps({k: figures[k] for k in ("ratio", "ours_queries_per_s", "bare_queries_per_s")}))


def test_bench_centres_command_prints_the_figures():
    from unibind_cli.kb import bench_centres as command

    done = CliRunner().invoke(command, ["--classes", "20", "--k", "5", "--dim", "16", "--queries", "500"])
    assert done.exit_code == 0, done.output
    assert "ratio" in done.output and "agrees with masked reference  : True" in done.output


def test_no_centres_error_says_what_the_kb_holds_and_why_it_did_not_count(tmp_path):
    from unibind.errors import InputError
    from unibind.knowledge.centres import CentreSettings, localize
    from unibind.knowledge.records import ClassRef, Description
    from unibind.knowledge.store import KnowledgeBase

    with KnowledgeBase(tmp_path / "audio.sqlite") as kb:
        for i in range(3):
            kb.add(Description.model_validate({
                "class_name": "dog", "kind": "class_description", "text": f"A dog barks loudly, take {i}.",
                "modality": "audio", "provenance": {"plugin": "test", "source": "templates", "settings_hash": "t"}}))

        class NoEmbedder:
            identity, hash = {}, "x"

            def __call__(self, texts):   # the canonical prompt is embedded; descriptions are not
                return torch.ones(len(texts), 4)

        with pytest.raises(InputError) as refused:
            localize([ClassRef(name="dog")], NoEmbedder(), CentreSettings(modality="image"), kb=kb)
    message = str(refused.value)
    assert "3 class_description from templates for audio" in message
    assert "centres for image use texts for image or for any modality" in message
    assert "not the prompt templates" in message
