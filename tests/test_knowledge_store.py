"""The knowledge-base store: records validated in and out, deduplication, atomic transactions."""

from __future__ import annotations

import io
import sqlite3

import pytest
from pydantic import ValidationError

from unibind.errors import InputError
from unibind.knowledge.records import ClassRef, Description, DescriptionDraft, Provenance, normalise_text
from unibind.knowledge.sources import parse_source_arg, read_classes
from unibind.knowledge.store import KnowledgeBase


def _desc(text: str, name: str = "dog", class_id: str | None = None, source: str = "manual",
          **kw) -> Description:
    provenance = Provenance(source=source, settings_hash="h", model=kw.pop("model", None))
    return Description(class_name=name, class_id=class_id, text=text, provenance=provenance, **kw)


@pytest.mark.parametrize(("a", "b"), [
    ("A dog.", "a dog"),
    ("a  dog\trunning\n", "A DOG RUNNING!!"),
    ("ﬁne ｄｏｇ", "fine dog"),          # NFKC: ligature and full-width letters
    ("Straße", "STRASSE"),               # case folding, not lower()
    ('a dog."', "a dog"),                # trailing quote and full stop
])
def test_normalisation_makes_variants_equal(a, b):
    assert normalise_text(a) == normalise_text(b)


def test_normalisation_keeps_what_differs():
    assert normalise_text("a dog") != normalise_text("a dot")
    assert normalise_text("a dog, wet") != normalise_text("a dog wet")   # inner punctuation stays
    assert normalise_text("...") == ""


def test_class_refs_parse_ids_and_reject_bad_ones(tmp_path):
    assert ClassRef.parse("n02084071 dog") == ClassRef(name="dog", class_id="n02084071")
    assert ClassRef.parse("n02084071\tgolden retriever").key == "n02084071"
    assert ClassRef.parse("golden_retriever").text_name == "golden retriever"
    with pytest.raises(ValidationError):
        ClassRef(name="dog", class_id="dog-1")
    listing = tmp_path / "classes.txt"
    listing.write_text("# pets\ndog\ncat  # comment\n\nn01443537 goldfish\ndog\n")
    refs = read_classes(str(listing))
    assert [(r.name, r.class_id) for r in refs] == [("dog", None), ("cat", None), ("goldfish", "n01443537")]
    assert [r.name for r in read_classes("dog, cat,dog")] == ["dog", "cat"]


def test_source_arguments_parse_json_values():
    assert parse_source_arg("wordnet") == ("wordnet", {})
    assert parse_source_arg("llm:temperature=0.7,model=gemma,few_shot=3,strict=true") == (
        "llm", {"temperature": 0.7, "model": "gemma", "few_shot": 3, "strict": True})
    assert parse_source_arg('templates:{"extra_templates": {"image": ["a {}"]}}')[1] == {
        "extra_templates": {"image": ["a {}"]}}
    with pytest.raises(ValueError, match="key=value"):
        parse_source_arg("llm:temperature")


def test_drafts_refuse_blank_and_oversized_text():
    with pytest.raises(ValidationError):
        DescriptionDraft(text="  ?! ")
    with pytest.raises(ValidationError):
        DescriptionDraft(text="x" * 2001)
    with pytest.raises(ValidationError):
        DescriptionDraft(text="ok", unknown_field=1)


def test_duplicates_are_ignored_per_class_and_kept_across_classes(tmp_path):
    with KnowledgeBase(tmp_path / "kb.sqlite") as kb:
        first = kb.add(_desc("A dog playing."))
        assert first is not None
        assert kb.add(_desc("a dog  PLAYING")) is None                 # same class, same normalised text
        assert kb.add(_desc("A dog playing.", source="other")) is None  # another source does not duplicate it
        assert kb.add(_desc("A dog playing.", name="wolf")) is not None
        assert kb.add(_desc("A dog playing.", kind="sample_caption", sample="ab" * 32)) is not None
        assert kb.count() == 3
        stored = kb.descriptions([ClassRef(name="dog")])
        assert [d.text for d in stored] == ["A dog playing.", "A dog playing."]
        assert stored[0].id == first and stored[0].provenance.source == "manual"


def test_records_are_validated_on_the_way_out(tmp_path):
    path = tmp_path / "kb.sqlite"
    with KnowledgeBase(path) as kb:
        kb.add(_desc("a dog"))
    raw = sqlite3.connect(path)
    raw.execute("UPDATE descriptions SET kind = 'class_description', text = '' WHERE id = 1")
    raw.commit()
    raw.close()
    with KnowledgeBase(path) as kb, pytest.raises(ValidationError):
        kb.descriptions()


def test_a_failed_transaction_leaves_nothing(tmp_path):
    with KnowledgeBase(tmp_path / "kb.sqlite") as kb:
        kb.add(_desc("kept before"))
        with pytest.raises(RuntimeError), kb.transaction():
            kb.add(_desc("written then rolled back"))
            kb.add(_desc("also rolled back", name="cat"))
            raise RuntimeError("killed mid-transaction")
        assert [d.text for d in kb.descriptions()] == ["kept before"]
        assert [c.name for c in kb.classes()] == ["dog"]


def test_export_import_round_trip_and_stats(tmp_path):
    with KnowledgeBase(tmp_path / "a.sqlite") as kb:
        kb.add(_desc("a dog", class_id="n02084071", model="m1", modality="image", meta={"relation": "gloss"}))
        kb.add(_desc("a cat", name="cat"))
        kb.add(_desc("a cat sleeping", name="cat", source="other"))
        out = io.StringIO()
        assert kb.export_jsonl(out) == 3
        stats = kb.stats()
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert Description.model_validate_json(lines[0]).meta == {"relation": "gloss"}
    assert stats["classes"] == 2 and stats["descriptions"] == 3
    assert stats["per_class"] == {"min": 1, "max": 2, "mean": 1.5}
    assert {row["texts"] for row in stats["sources"]["manual"]} == {1}
    with KnowledgeBase(tmp_path / "b.sqlite") as other:
        assert other.import_jsonl(lines) == (3, 0)
        assert other.import_jsonl(lines) == (0, 3)   # importing twice duplicates nothing
        again = [d.model_dump(exclude={"id"}) for d in other.descriptions()]
    assert again == [Description.model_validate_json(line).model_dump(exclude={"id"}) for line in lines]


def test_classes_resolve_by_name_or_id_and_ambiguity_is_an_error(tmp_path):
    with KnowledgeBase(tmp_path / "kb.sqlite") as kb:
        kb.add(_desc("a wading bird", name="crane", class_id="n02012849"))
        kb.add(_desc("a lifting machine", name="crane", class_id="n03126707"))
        kb.add(_desc("a dog", name="dog", class_id="n02084071"))
        assert kb.resolve(ClassRef(name="dog")) == ClassRef(name="dog", class_id="n02084071")
        assert kb.resolve(ClassRef(name="Crane", class_id="n03126707")).class_id == "n03126707"
        with pytest.raises(InputError, match="ambiguous"):
            kb.resolve(ClassRef(name="crane"))
        assert len(kb.find_classes("CRANE")) == 2


def test_not_a_knowledge_base_is_a_clear_error(tmp_path):
    bogus = tmp_path / "notes.sqlite"
    bogus.write_text("this is not sqlite" * 100)
    with pytest.raises(InputError, match="not a knowledge base"):
        KnowledgeBase(bogus)
    with pytest.raises(InputError, match="no knowledge base here"):
        KnowledgeBase(tmp_path / "missing.sqlite", create=False)
