"""``unibind kb check``: descriptions that read as another class's are listed; the knowledge base is not changed."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch
from click.testing import CliRunner

from unibind.knowledge.audit import audit_descriptions
from unibind.knowledge.records import Description, Provenance
from unibind.knowledge.store import KnowledgeBase

DOG = ["A dog is a loyal pet that barks and wags its tail.", "A dog has four legs, fur and a wet nose.",
       "A dog fetches sticks and chews bones in the garden.", "A dog is a domesticated canine kept as a companion."]
PLANE = ["An airplane flies through the sky on two long wings.", "An airplane carries passengers between airports.",
         "An airplane has jet engines and a cockpit for the pilots.", "An airplane takes off from a runway."]
WRONG = "A dog is an aircraft with jet engines, wings and a cockpit, flown by pilots between airports."


def _kb(path, dog=DOG, plane=PLANE):
    with KnowledgeBase(path) as kb:
        for name, texts in (("dog", dog), ("airplane", plane)):
            kb.add_many(Description(class_name=name, text=t, provenance=Provenance(source="manual", settings_hash="h"))
                        for t in texts)
    return path


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_a_description_nearer_another_class_is_a_suspect_with_itself_left_out(tmp_path):
    """Axis-aligned toy vectors: class A's texts on axis 0, B's on axis 1, one A text on axis 1."""
    vectors = {**{t: [1.0, 0.1 * i, 0.0] for i, t in enumerate(DOG)},
               **{t: [0.1 * i, 1.0, 0.0] for i, t in enumerate(PLANE)}, WRONG: [0.0, 1.0, 0.2]}

    def embed(texts):
        return torch.tensor([vectors[t] for t in texts])

    with KnowledgeBase(_kb(tmp_path / "kb.sqlite", DOG + [WRONG]), read_only=True) as kb:
        report = audit_descriptions(kb, embed)
    assert report.classes == 2 and report.descriptions == 9 and report.per_class == {"dog": 5, "airplane": 4}
    assert [(s.class_name, s.leans_to, s.text) for s in report.suspects] == [("dog", "airplane", WRONG)]
    assert report.suspects[0].own < report.suspects[0].other


def test_a_lone_description_is_compared_with_its_class_name_and_one_class_is_refused(tmp_path):
    calls = []

    def embed(texts):
        calls.append(list(texts))
        return torch.eye(3)[[0 if "dog" in t.lower() else 1 for t in texts]]

    with KnowledgeBase(_kb(tmp_path / "kb.sqlite", DOG[:1]), read_only=True) as kb:
        assert audit_descriptions(kb, embed).suspects == []
    assert calls[-1] == ["dog"]                     # the lone description's class is represented by its name
    with KnowledgeBase(_kb(tmp_path / "one.sqlite", DOG, []), read_only=True) as kb, \
            pytest.raises(ValueError, match="1 class"):
        audit_descriptions(kb, embed)


@pytest.mark.slow
def test_kb_check_finds_the_wrong_sentence_with_the_real_text_encoder_and_changes_nothing(tmp_path):
    from unibind_cli.kb import kb

    folder = tmp_path / "kbdir"
    folder.mkdir()
    path = _kb(folder / "kb.sqlite", DOG + [WRONG])
    before = _digest(folder)
    result = CliRunner().invoke(kb, ["check", "--kb", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["descriptions"] == 9
    assert [(s["class_name"], s["leans_to"], s["text"]) for s in report["suspects"]] == [("dog", "airplane", WRONG)]
    after = _digest(folder)
    assert after["kb.sqlite"] == before["kb.sqlite"]        # read, never written: SQLite's read-only opening
    wal = folder / "kb.sqlite-wal"                           # may leave an empty WAL and its index, nothing else
    assert (not wal.exists() or wal.stat().st_size == 0) and set(after) <= {wal.name, "kb.sqlite", "kb.sqlite-shm"}
    shown = CliRunner().invoke(kb, ["check", "--kb", str(path)])
    assert "1 nearer another class than their own" in shown.output and "dog -> airplane" in shown.output
    unknown = CliRunner().invoke(kb, ["check", "--kb", str(path), "--classes", "dog,wolf"])
    assert unknown.exit_code == 1 and "1 class(es) with descriptions found (none for wolf)" in unknown.output
    missing = CliRunner().invoke(kb, ["check", "--kb", str(tmp_path / "nope.sqlite")])
    assert missing.exit_code == 1 and "no knowledge base here" in missing.output
