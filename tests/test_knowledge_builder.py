"""Building the knowledge base: counts, resuming after a failure, the template source, captions, the CLI."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from unibind.knowledge.builder import build_captions, build_knowledge_base
from unibind.knowledge.records import ClassRef, DescriptionDraft, Rejected, SampleRef
from unibind.knowledge.sources import check_captioner, check_description_source
from unibind.knowledge.store import KnowledgeBase
from unibind.knowledge.templates import CLIP_IMAGENET_TEMPLATES, TemplateSource
from unibind.knowledge.testing import VOCABULARY, ScriptedCaptioner, ScriptedSettings, ScriptedSource
from unibind.plugins import reset_plugin_manager
from unibind.specs import DescriptionSourceSpec

CLASSES = [ClassRef(name="dog", class_id="n02084071"), ClassRef(name="cat"),
           ClassRef(name="golden_retriever")]


@pytest.fixture
def registry(make_plugin, manager_with):
    def sources(register):
        register(DescriptionSourceSpec(name="scripted", factory="unibind.knowledge.testing:ScriptedSource",
                                       settings="unibind.knowledge.testing:ScriptedSettings"))
        register(DescriptionSourceSpec(name="captioner",
                                       factory="unibind.knowledge.testing:ScriptedCaptioner",
                                       produces=("sample_captions",), modalities=("text",)))

    manager = manager_with({"fakes": make_plugin("fakes", unibind_description_sources=sources)})
    reset_plugin_manager(manager)
    return manager.registry


def _content(path):
    """What a build leaves behind, minus row ids and timestamps."""
    with KnowledgeBase(path, create=False) as kb:
        texts = [(d.class_name, d.class_id, d.text, d.modality, d.provenance.source, d.provenance.model,
                  d.provenance.prompt, d.provenance.seed, d.provenance.settings_hash, json.dumps(d.meta))
                 for d in kb.descriptions()]
        jobs = [j.model_dump(exclude={"updated_at"}) for j in kb.jobs()]
    return texts, jobs


def test_scripted_source_meets_the_source_contract():
    items = check_description_source(ScriptedSource(), n=10)
    assert any(isinstance(i, Rejected) for i in items)


def test_template_source_meets_the_contract_and_keeps_its_list_method():
    source = TemplateSource()
    items = check_description_source(source, ClassRef(name="golden_retriever"), n=80)
    assert [i.text for i in items] == source.class_descriptions("golden_retriever")
    assert items[0].prompt == CLIP_IMAGENET_TEMPLATES[0] and items[0].modality == "image"
    audio = list(source.describe(ClassRef(name="dog"), 5, modality="audio"))
    assert audio[0].text == "the sound of a dog." and {i.modality for i in audio} == {"audio"}


def test_the_contract_check_catches_a_source_that_ignores_start():
    class NoResume(ScriptedSource):
        def describe(self, cls, n, *, modality=None, seed=0, start=0):
            yield from super().describe(cls, n, modality=modality, seed=seed, start=0)

    with pytest.raises(AssertionError, match="start=1"):
        check_description_source(NoResume(), n=5)


def test_build_counts_generated_kept_and_rejected_with_reasons(tmp_path, registry):
    with KnowledgeBase(tmp_path / "kb.sqlite") as kb:
        report = build_knowledge_base(kb, CLASSES, [("scripted", {"items": 40})], per_class=100,
                                      registry=registry)
        (summary,) = report.sources
        stream = ScriptedSource(ScriptedSettings(items=40)).stream(CLASSES[0], 0)
        off_class = sum(isinstance(i, Rejected) for i in stream)
        assert summary.generated == 3 * 40
        assert summary.rejected["off_class"] == 3 * off_class
        assert summary.rejected["duplicate"] > 0
        assert summary.kept + sum(summary.rejected.values()) == summary.generated
        assert summary.kept == kb.count() == len({(d.class_name, d.normalised) for d in kb.descriptions()})
        d = kb.descriptions([CLASSES[0]])[0]
        p = d.provenance
        assert (p.plugin, p.source, p.model) == ("fakes", "scripted", "scripted-v1")
        assert d.provenance.prompt == "describe a dog" and d.class_id == "n02084071"
        print(f"scripted: generated {summary.generated}, kept {summary.kept}, rejected {summary.rejected}")


def test_per_class_stops_early_and_a_larger_rerun_continues(tmp_path, registry):
    path = tmp_path / "kb.sqlite"
    with KnowledgeBase(path) as kb:
        build_knowledge_base(kb, CLASSES, [("scripted", None)], per_class=10, registry=registry)
        assert [c.descriptions for c in kb.classes()] == [10, 10, 10]
        again = build_knowledge_base(kb, CLASSES, [("scripted", None)], per_class=10, registry=registry)
        assert again.sources[0].skipped == 3 and kb.count() == 30
        build_knowledge_base(kb, CLASSES, [("scripted", None)], per_class=1000, registry=registry)
    reference = tmp_path / "ref.sqlite"
    with KnowledgeBase(reference) as kb:
        build_knowledge_base(kb, CLASSES, [("scripted", None)], per_class=1000, registry=registry)
    assert sorted(_content(path)[0]) == sorted(_content(reference)[0])   # same texts, another order
    with KnowledgeBase(path) as kb:
        assert all(j.exhausted and j.cursor == 40 for j in kb.jobs())


def test_a_class_named_in_another_case_is_the_same_class(tmp_path, registry):
    with KnowledgeBase(tmp_path / "kb.sqlite") as kb:
        build_knowledge_base(kb, [ClassRef(name="Red fox")], [("scripted", None)], per_class=5, registry=registry)
        again = build_knowledge_base(kb, [ClassRef(name="red fox")], [("scripted", None)], per_class=5,
                                     registry=registry)
        build_knowledge_base(kb, [ClassRef(name="RED FOX")], [("templates", None)], per_class=5, registry=registry)
        assert again.sources[0].skipped == 1
        assert [(c.name, c.descriptions) for c in kb.classes()] == [("Red fox", 10)]


def test_a_failing_source_is_recorded_and_a_rerun_finishes_the_job(tmp_path, registry):
    flag = tmp_path / "fail-now"
    flag.touch()
    settings = {"fail_at": 17, "fail_flag": str(flag)}
    path = tmp_path / "kb.sqlite"
    with KnowledgeBase(path) as kb:
        report = build_knowledge_base(kb, CLASSES, [("scripted", settings)], per_class=100, commit_every=4,
                                      registry=registry)
        assert report.failed == 3 and "scripted failure at item 17" in report.sources[0].errors[0]
        assert {j.cursor for j in kb.jobs()} == {17}        # everything before the failure was kept
        flag.unlink()
        report = build_knowledge_base(kb, CLASSES, [("scripted", settings)], per_class=100, registry=registry)
        assert report.failed == 0
    reference = tmp_path / "ref.sqlite"
    with KnowledgeBase(reference) as kb:
        build_knowledge_base(kb, CLASSES, [("scripted", settings)], per_class=100, registry=registry)
    (texts, jobs), (ref_texts, ref_jobs) = _content(path), _content(reference)
    assert sorted(texts) == sorted(ref_texts) and len(texts) == len(set(texts))
    assert jobs == ref_jobs   # same counts and cursors as if it had never failed


def test_a_source_yielding_garbage_fails_its_job_only(tmp_path, registry, monkeypatch):
    def bad(self, cls, n, *, modality=None, seed=0, start=0):
        yield DescriptionDraft(text=f"a fine {cls.name}")
        if cls.name == "cat":
            yield "not a draft"

    monkeypatch.setattr(ScriptedSource, "describe", bad)
    with KnowledgeBase(tmp_path / "kb.sqlite") as kb:
        report = build_knowledge_base(kb, CLASSES, [("scripted", None)], per_class=5, registry=registry)
        assert report.sources[0].failed == 1 and "not a DescriptionDraft" in report.sources[0].errors[0]
        assert sorted(d.text for d in kb.descriptions()) == ["a fine cat", "a fine dog",
                                                             "a fine golden_retriever"]


def test_a_source_that_cannot_be_built_is_reported_and_the_others_run(tmp_path, registry, monkeypatch):
    calls = []

    def broken(self, settings=None):
        calls.append(1)
        raise OSError("model weights not found")

    monkeypatch.setattr(ScriptedSource, "__init__", broken)
    with KnowledgeBase(tmp_path / "kb.sqlite") as kb:
        report = build_knowledge_base(kb, CLASSES, [("scripted", None), ("templates", None)], per_class=3,
                                      registry=registry)
        scripted, templates = report.sources
        assert scripted.failed == 3 and "model weights not found" in scripted.errors[0] and len(calls) == 1
        assert templates.kept == 9 and kb.count() == 9


def test_sources_must_produce_what_they_are_asked_for(tmp_path, registry):
    with KnowledgeBase(tmp_path / "kb.sqlite") as kb, pytest.raises(ValueError, match="does not produce"):
        build_knowledge_base(kb, CLASSES, [("captioner", None)], per_class=5, registry=registry)


def test_captions_are_stored_per_sample_and_resume(tmp_path, registry):
    files = []
    for i, name in enumerate(["rex", "tom", "x"]):
        path = tmp_path / f"{name}.txt"
        path.write_text("a" * (10 if name != "x" else 2) + str(i))
        files.append(SampleRef.from_path(path, "text", label=CLASSES[i % 2]))
    with KnowledgeBase(tmp_path / "kb.sqlite") as kb:
        report = build_captions(kb, files[:2], ("captioner", None), per_sample=2, registry=registry)
        assert report.sources[0].kept == 4
        report = build_captions(kb, files, ("captioner", None), per_sample=2, registry=registry)
        (summary,) = report.sources
        assert summary.skipped == 2 and summary.rejected == {"too_small": 1}
        captions = kb.descriptions(kind="sample_caption")
        word = VOCABULARY[int(files[0].sha256[:8], 16) % len(VOCABULARY)]
        assert [c.text for c in captions if c.sample == files[0].sha256] == [f"rex {word} view 0",
                                                                               f"rex {word} view 1"]
        assert {c.class_name for c in captions if c.sample == files[1].sha256} == {"cat"}
        assert {c.sample_path for c in captions} == {str(files[0].path), str(files[1].path)}
    assert len(check_captioner(ScriptedCaptioner(), files, n=2)) == 5


def test_a_sample_another_process_is_captioning_is_skipped_and_said_then_done_on_a_rerun(tmp_path, registry):
    """Two `kb caption` runs into one KB: the second leaves the first's claimed samples alone (no double captions)."""
    import subprocess
    import sys

    files = []
    for i, name in enumerate(["rex", "tom"]):
        path = tmp_path / f"{name}.txt"
        path.write_text("a" * 10 + str(i))
        files.append(SampleRef.from_path(path, "text", label=CLASSES[i]))
    keys = ("class_key", "kind", "sample", "source", "settings_hash", "modality", "seed")
    with KnowledgeBase(tmp_path / "scratch.sqlite") as scratch:   # learns rex's job key
        build_captions(scratch, files[:1], ("captioner", None), per_sample=1, registry=registry)
        (job,) = scratch.jobs()
        key = {k: getattr(job, k) for k in keys}
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # a live process holds rex
    try:
        with KnowledgeBase(tmp_path / "kb.sqlite") as kb:
            assert kb.claim_job(key) is None
            with kb.transaction() as db:
                db.execute("UPDATE claims SET pid = ?", (other.pid,))
            (summary,) = build_captions(kb, files, ("captioner", None), per_sample=1, registry=registry).sources
            assert summary.failed == 1 and summary.kept == 1 and len(summary.errors) == 1
            assert summary.errors[0].startswith(f"{files[0].path}: being captioned by another `kb caption` "
                                                f"(pid {other.pid} on ")
            assert [c.sample for c in kb.descriptions(kind="sample_caption")] == [files[1].sha256]
            other.kill()
            other.wait()
            again = build_captions(kb, files, ("captioner", None), per_sample=1, registry=registry).sources[0]
            assert again.failed == 0 and again.skipped == 1   # the dead process's claim is taken over
            captions = kb.descriptions(kind="sample_caption")
            assert sorted(c.sample for c in captions) == sorted(f.sha256 for f in files)   # one each, none twice
            assert kb.db.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0         # every claim released
    finally:
        other.kill()


def test_the_captioner_check_catches_bad_indices(tmp_path):
    class OffByOne(ScriptedCaptioner):
        def caption(self, samples, *, n=1, seed=0):
            for index, item in super().caption(samples, n=n, seed=seed):
                yield index + 1, item

    path = tmp_path / "a.txt"
    path.write_text("some text")
    with pytest.raises(AssertionError, match="index 1"):
        check_captioner(OffByOne(), [SampleRef.from_path(path, "text")])


def test_kb_cli_build_show_stats_export(tmp_path, registry):
    from unibind_cli.kb import kb

    path = str(tmp_path / "kb.sqlite")
    runner = CliRunner()
    done = runner.invoke(kb, ["build", "--kb", path, "--classes", "n02084071 dog,cat", "--source",
                              "templates", "--source", "scripted:items=30,reject_every=3",
                              "--per-class", "20"])
    assert done.exit_code == 0, done.output
    assert "templates" in done.output and "off_class" in done.output
    shown = runner.invoke(kb, ["show", "--kb", path, "n02084071", "--source", "templates", "--limit", "3"])
    assert shown.exit_code == 0 and "a bad photo of a dog." in shown.output and "17 more" in shown.output
    stats = json.loads(runner.invoke(kb, ["stats", "--kb", path, "--json"]).output)
    assert stats["classes"] == 2 and stats["jobs"] == {"total": 4, "finished": 4, "failed": 0}
    assert stats["rejected"]["off_class"] == 20
    out = tmp_path / "kb.jsonl"
    exported = runner.invoke(kb, ["export", "--kb", path, "--out", str(out), "--source", "scripted"])
    assert exported.exit_code == 0
    lines = out.read_text().splitlines()
    # 30 items, 10 rejected: 20 drafts per class, 4 of them repeats
    assert len(lines) == stats["sources"]["scripted"][0]["texts"] == 32
    assert all(json.loads(line)["provenance"]["source"] == "scripted" for line in lines)
    missing = runner.invoke(kb, ["show", "--kb", path, "wolf"])
    assert missing.exit_code != 0 and "no class 'wolf'" in missing.output
    assert "it has 2: " in missing.output  # the available classes are listed
    unknown = runner.invoke(kb, ["build", "--kb", path, "--classes", "dog", "--source", "nope"])
    assert unknown.exit_code != 0 and "no description_source named 'nope'" in unknown.output


def test_kb_cli_build_says_each_finished_class_on_stderr(tmp_path, registry, monkeypatch):
    """A build of a few classes draws no bar; a slow LLM build must still show its progress in a log."""
    from unibind_cli.kb import kb

    monkeypatch.delenv("UNIBIND_QUIET", raising=False)
    done = CliRunner().invoke(kb, ["build", "--kb", str(tmp_path / "kb.sqlite"), "--classes", "dog,cat",
                                   "--source", "scripted:items=9,reject_every=3", "--per-class", "20"])
    assert done.exit_code == 0, done.output
    lines = [line for line in done.stderr.splitlines() if line.startswith("scripted: ")]
    # 9 items: every 3rd off-class, every 5th a repeat (the store's "duplicate"); reasons, most first
    assert lines[0].split(";")[0] == "scripted: dog: 5 kept of 9 generated (rejected: off_class 3, duplicate 1)"
    assert len(lines) == 2 and lines[1].startswith("scripted: cat: ")
    assert all(line.endswith(" s") for line in lines)
    assert not any(line.startswith("scripted: ") for line in done.stdout.splitlines())  # stdout: the table


def test_descriptions_that_speak_of_no_modality_serve_every_modality(tmp_path, registry):
    """A class description built for images is one for sounds too: not tagged image and rejected for audio."""
    with KnowledgeBase(tmp_path / "kb.sqlite") as kb:
        build_knowledge_base(kb, CLASSES[:1], [("scripted", {"items": 12})], per_class=50, modality="image",
                             registry=registry)
        build_knowledge_base(kb, CLASSES[:1], [("templates", None)], per_class=50, modality="audio",
                             registry=registry)
        scripted = kb.descriptions(CLASSES[:1], sources=["scripted"])
        assert scripted and {d.modality for d in scripted} == {None}
        for_audio = kb.descriptions(CLASSES[:1], sources=["scripted"], modality="audio")
        assert len(for_audio) == len(scripted)
        # a draft that names its modality keeps it, and only that modality sees it
        assert {d.modality for d in kb.descriptions(CLASSES[:1], sources=["templates"])} == {"audio"}
        assert kb.descriptions(CLASSES[:1], sources=["templates"], modality="image") == []
