"""Evaluation only reads the user's knowledge base (issue 16): additions go to a scratch copy."""

from __future__ import annotations

import hashlib

import pytest

from unibind.evaluation.runner import knowledge_for
from unibind.evaluation.zeroshot import kb_source_counts
from unibind.knowledge.builder import build_knowledge_base
from unibind.knowledge.store import KnowledgeBase

from .conftest import CLASSES


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def user_kb(tmp_path, registry):
    path = tmp_path / "mine.sqlite"
    with KnowledgeBase(path) as kb:
        build_knowledge_base(kb, CLASSES[:2], [("templates", None)], per_class=5, modality="image",
                             registry=registry)
        kb.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def test_a_given_kb_is_read_and_what_it_lacks_goes_to_scratch(tmp_path, registry, user_kb):
    before = _digest(user_kb)
    scratch = tmp_path / "out" / "kb-with-additions.sqlite"
    plan = knowledge_for(user_kb, CLASSES[:3], ["templates", "scripted:items=4"], per_class=50, scratch=scratch,
                         registry=registry)
    assert _digest(user_kb) == before
    with KnowledgeBase(user_kb, read_only=True) as kb:
        assert kb_source_counts(kb, CLASSES[:3], "image") == {"templates": 10}
    assert plan.path == scratch and plan.wrote == scratch
    with KnowledgeBase(scratch, read_only=True) as kb:
        counts = kb_source_counts(kb, CLASSES[:2], "image")
        assert counts["templates"] == 10          # present for these classes: used as found, not topped up to 50
        third = kb_source_counts(kb, CLASSES[2:3], "image")
        assert third["templates"] > 0              # the class it had none of
        assert kb_source_counts(kb, CLASSES[:3], "image")["scripted"] > 0
    assert "not changed" in " ".join(plan.messages(user_kb))
    again = knowledge_for(user_kb, CLASSES[:3], ["templates", "scripted:items=4"], per_class=50, scratch=scratch,
                          registry=registry)
    assert again.path == scratch and _digest(user_kb) == before


def test_nothing_lacking_means_nothing_written(tmp_path, registry, user_kb):
    scratch = tmp_path / "out" / "kb-with-additions.sqlite"
    plan = knowledge_for(user_kb, CLASSES[:2], ["templates"], per_class=80, scratch=scratch, registry=registry)
    assert plan.path == user_kb and plan.wrote is None and not scratch.exists()
    assert plan.status == {"templates": "used as found"}


def test_update_writes_into_the_given_kb_when_asked(tmp_path, registry, user_kb):
    before = _digest(user_kb)
    plan = knowledge_for(user_kb, CLASSES[:3], ["templates"], per_class=5, scratch=tmp_path / "s.sqlite",
                         update=True, registry=registry)
    assert plan.path == user_kb and plan.wrote == user_kb and not (tmp_path / "s.sqlite").exists()
    with KnowledgeBase(user_kb, read_only=True) as kb:
        assert kb_source_counts(kb, CLASSES[:3], "image")["templates"] == 15
    assert _digest(user_kb) != before


def test_read_only_open_refuses_writes(user_kb):
    import sqlite3

    from unibind.knowledge.records import ClassRef

    with KnowledgeBase(user_kb, read_only=True) as kb, pytest.raises(sqlite3.OperationalError, match="readonly"):
        kb.ensure_class(ClassRef(name="zebra"))


def _folder(path):
    """Every file in ``path``'s folder: bytes and modification time (so a new -wal/-shm shows too)."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(path.parent.iterdir())}


@pytest.fixture
def closed_kb(tmp_path, registry):
    path = tmp_path / "given" / "kb.sqlite"
    with KnowledgeBase(path) as kb:
        build_knowledge_base(kb, CLASSES[:2], [("scripted", {"items": 6}), ("templates", None)], per_class=5,
                             modality="image", registry=registry)
    assert sorted(p.name for p in path.parent.iterdir()) == ["kb.sqlite"]  # the writer's close tidied up
    return path


def test_read_only_commands_leave_the_kb_folder_byte_identical(tmp_path, registry, closed_kb):
    from click.testing import CliRunner

    from unibind_cli.main import cli

    before = _folder(closed_kb)
    out = tmp_path / "out"
    kb = ["--kb", str(closed_kb)]
    for args in (["kb", "stats", *kb], ["kb", "show", "dog", *kb],
                 ["kb", "export", *kb, "--out", str(out / "x.jsonl")],
                 ["kb", "check", *kb, "--text-encoder", "hashing"],
                 ["kb", "centres", *kb, "--method", "mean", "--text-encoder", "hashing", "--cache",
                  str(out / "text.sqlite"), "--out", str(out / "centres")]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, (args, result.output)
    # what eval zeroshot does with a given KB: read it, and copy it to scratch for what it lacks
    plan = knowledge_for(closed_kb, CLASSES, ["templates"], per_class=5, scratch=out / "scratch.sqlite",
                         registry=registry)
    assert plan.path == out / "scratch.sqlite"
    assert _folder(closed_kb) == before


def test_a_kb_a_writer_has_open_is_read_with_what_it_committed(tmp_path, registry, closed_kb):
    from unibind.knowledge.records import ClassRef

    with KnowledgeBase(closed_kb) as writer:
        writer.ensure_class(ClassRef(name="zebra"))          # committed, still in the writer's -wal
        with KnowledgeBase(closed_kb, read_only=True) as reader:
            assert "zebra" in {c.name for c in reader.classes()}


def test_a_kb_rewritten_while_read_is_an_error_not_a_mixed_answer(tmp_path, registry, closed_kb):
    from unibind.errors import InputError
    from unibind.knowledge.records import ClassRef

    reader = KnowledgeBase(closed_kb, read_only=True)
    reader.classes()
    with KnowledgeBase(closed_kb) as writer:                # closing checkpoints into the file being read
        writer.ensure_class(ClassRef(name="zebra"))
    with pytest.raises(InputError, match="changed while"):
        reader.close()
