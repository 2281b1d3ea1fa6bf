"""The shared filter every LLM source runs its output through."""

from __future__ import annotations

import pytest

from unibind.knowledge.filters import (
    DescriptionFilter,
    FilterSettings,
    clean_candidate,
    looks_english,
    mentions,
    split_candidates,
)
from unibind.knowledge.records import ClassRef, DescriptionDraft, Rejected


def test_split_strips_numbering_bullets_and_quotes():
    reply = '1. A dog is a loyal pet.\n\n2) "Dogs bark at strangers."\n- * A dog wags its tail.\nDescription 4: A dog runs.'
    assert split_candidates(reply) == [
        "A dog is a loyal pet.", "Dogs bark at strangers.", "A dog wags its tail.", "A dog runs."]
    assert split_candidates("   \n") == [""]
    assert clean_candidate("  •  ‘A cat sleeps.’ ") == "A cat sleeps."


def test_mentions_handles_plurals_hyphens_and_alternatives():
    assert mentions("Ankle boots cover the ankle.", "ankle boot")
    assert mentions("A T-shirt has short sleeves.", "T-shirt/top")
    assert mentions("A top is worn on the upper body.", "T-shirt/top")
    assert not mentions("A boot is footwear.", "ankle boot")


@pytest.mark.parametrize("text,reason", [
    ("", "empty"),
    ("A dog is a loyal animal that", "truncated"),
    ("Dogs.", "too_short"),
    ("A dog is " + " ".join(f"word{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(70)) + ".", "too_long"),
    ("Le chien est un animal fidèle qui aboie.", "not_english"),
    ("Собака это домашнее животное и друг.", "not_english"),
    ("A cat is a small furry animal that purrs.", "off_class"),
    ("A dog runs and a dog runs and a dog runs and a dog runs.", "repeated"),
])
def test_each_rejection_reason(text, reason):
    result = DescriptionFilter(ClassRef(name="dog")).check(text)
    assert isinstance(result, Rejected) and result.reason == reason, result


def test_keeps_good_text_once_and_counts_the_repeat():
    f = DescriptionFilter(ClassRef(name="dog"))
    first = f.check("A dog is a loyal four-legged animal.", model="m")
    assert isinstance(first, DescriptionDraft) and first.model == "m"
    again = f.check("a dog is a loyal four-legged animal")
    assert isinstance(again, Rejected) and again.reason == "repeated"


def test_other_class_mention_without_own_is_off_class_even_when_mention_not_required():
    f = DescriptionFilter(ClassRef(name="dog"), FilterSettings(require_mention=False), other_classes=["cat", "dog"])
    assert f.check("It is a loyal animal that guards the house.").__class__ is DescriptionDraft
    assert f.check("A cat is a small animal that purrs.").reason == "off_class"
    assert isinstance(f.check("A dog chases a cat up the tree."), DescriptionDraft)


def test_run_marks_only_the_last_line_of_an_unfinished_reply_truncated():
    f = DescriptionFilter(ClassRef(name="dog"), FilterSettings(require_sentence_end=False))
    items = list(f.run([("1. A dog is a loyal pet\n2. A dog barks at night and", False)]))
    assert isinstance(items[0], DescriptionDraft)
    assert isinstance(items[1], Rejected) and items[1].reason == "truncated"


def test_looks_english_short_and_long():
    assert looks_english("Golden retriever.")
    assert looks_english("A sneaker is a shoe for sport.")
    assert not looks_english("Zapatilla deportiva blanca muy cómoda para correr")


@pytest.mark.parametrize(("text", "name"), [
    ("Dresses come in many lengths and fabrics.", "dress"),
    ("Butterflies have four scaled wings.", "butterfly"),
    ("Boxes are made of cardboard or wood.", "box"),
    ("Buses carry many passengers through a city.", "bus"),
    ("Cherries are small round red fruits.", "cherry"),
    ("Wolves hunt in packs across the tundra.", "wolf"),
    ("Mice are small rodents with long tails.", "mouse"),
    ("Sneakers have rubber soles and laces.", "sneaker"),
    ("A pair of glasses sits on the nose.", "glasses"),
])
def test_mentions_knows_regular_and_irregular_plurals(text, name):
    assert mentions(text, name)


def test_mentions_still_rejects_other_words():
    assert not mentions("Dressing a salad takes oil and vinegar.", "dress shoe")
    assert not mentions("A bush grows in the garden.", "bus")
    assert not mentions("Mice are small rodents.", "rice")


@pytest.mark.parametrize("text", [
    "Een jurk is een kledingstuk dat vooral door vrouwen wordt gedragen.",
    "Ein Kleid ist ein Kleidungsstück, das meistens von Frauen getragen wird.",
    "Un vestito è un indumento che copre il corpo dalle spalle alle gambe.",
    "Une robe est un vêtement porté surtout par les femmes et les filles.",
    "Un vestido es una prenda de vestir que cubre el cuerpo.",
])
def test_looks_english_rejects_other_languages(text):
    assert not looks_english(text)


@pytest.mark.parametrize("text", [
    "A dress is a one-piece garment worn over the body.",
    "Trousers cover both legs from the waist down.",
    "The pullover is knitted from soft wool.",
])
def test_looks_english_keeps_english(text):
    assert looks_english(text)
