"""Class names and ImageNet ids to synsets, and the ambiguity rule on words with several senses."""

from __future__ import annotations

from pathlib import Path

import pytest

from unibind.errors import InputError
from unibind.knowledge.records import ClassRef
from unibind_plugin_wordnet.resolve import Resolver, name_forms, read_imagenet_ids


@pytest.fixture(scope="module")
def imagenet() -> frozenset[str]:
    return read_imagenet_ids()


def test_imagenet_list_is_timms_thousand_classes(imagenet) -> None:
    assert len(imagenet) == 1000 and "n03126707" in imagenet and "n02084071" not in imagenet


def test_imagenet_id_resolves_directly(source) -> None:
    found = source.resolve(ClassRef(name="whatever it is called", class_id="n02084071"))
    assert (found.synset, found.synset_id, found.rule, found.ambiguous) == ("dog.n.01", "n02084071", "id", False)
    assert source.resolve("n03126707").synset == "crane.n.04"  # a bare id is a name that is an id
    assert source.resolve("dog.n.03").synset == "dog.n.03"     # so is a synset name


@pytest.mark.parametrize("name, synset, lemma", [
    ("dog", "dog.n.01", "dog"),
    ("golden_retriever", "golden_retriever.n.01", "golden retriever"),  # underscores read as spaces
    ("golden retriever", "golden_retriever.n.01", "golden retriever"),
    ("T-shirt/top", "jersey.n.03", "T-shirt"),        # first alternative with a noun sense
    ("t shirt", "jersey.n.03", "t shirt"),            # space read as the hyphen WordNet writes
    ("tshirt", "jersey.n.03", "t-shirt"),             # the same letters as the lemma "t-shirt"
    ("hi-hat", "high-hat_cymbal.n.01", "high_hat"),    # no such lemma: the one it shortens
    ("hi hat", "high-hat_cymbal.n.01", "high_hat"),    # spelled apart: the cymbal, not a kind of hat
    ("three", "three.n.01", "three"),                 # the number, not the playing card (trey.n.02)
    ("seven", "seven.n.01", "seven"),                 # not the seven-spot card
    ("xqzvbnm", None, None),                          # nothing spelled alike: unresolved
    ("Sneaker", "gym_shoe.n.01", "Sneaker"),          # case-insensitive, synonym lemma
    ("mice", "mouse.n.04", "mice"),                   # plural through WordNet's morphology
])
def test_names_resolve_to_noun_synsets(source, name, synset, lemma) -> None:
    found = source.resolve(name)
    assert found.synset == synset
    assert found.lemma == lemma
    assert (found.rule == "unresolved") == (synset is None)


def test_name_forms_try_separator_variants_once() -> None:
    assert name_forms("ankle boot") == ["ankle_boot", "ankle-boot", "ankleboot"]
    assert name_forms("T-shirt") == ["T-shirt", "T_shirt", "Tshirt"]


@pytest.mark.parametrize("word, rule, synset, how", [
    # crane: writers, a constellation, the machine and the bird; both artefact and bird are ImageNet-1k
    ("crane", "imagenet", "crane.n.04", "imagenet-1k"),       # the more frequent ImageNet sense: machine
    ("crane", "physical", "crane.n.04", "physical"),          # writers are instances, so skipped
    ("crane", "frequent", "crane.n.01", "most-frequent"),     # Stephen Crane
    # mouse: only the computer mouse is an ImageNet-1k class
    ("mouse", "imagenet", "mouse.n.04", "imagenet-1k"),
    ("mouse", "physical", "mouse.n.01", "physical"),
    # bat: no ImageNet-1k sense; the animal is the first physical one
    ("bat", "imagenet", "bat.n.01", "physical"),
    ("bat", "frequent", "bat.n.01", "most-frequent"),
])
def test_ambiguity_rule(wn, imagenet, word, rule, synset, how) -> None:
    found = Resolver(wn, rule=rule, imagenet_ids=imagenet).resolve(word)
    assert found.ambiguous and len(found.candidates) >= 4 and synset in found.candidates
    assert (found.synset, found.rule) == (synset, how)
    assert how in found.summary() and found.candidates[0] in found.summary()


def test_imagenet_rule_without_an_imagenet_list_falls_back_to_physical(wn) -> None:
    found = Resolver(wn, rule="imagenet", imagenet_ids=frozenset()).resolve("mouse")
    assert (found.synset, found.rule) == ("mouse.n.01", "physical")


def test_fixed_senses_win_over_the_rule(wn, imagenet) -> None:
    resolver = Resolver(wn, imagenet_ids=imagenet, senses={"Mouse": "mouse.n.01", "crane": "n02012849"})
    assert (resolver.resolve("mouse").synset, resolver.resolve("mouse").rule) == ("mouse.n.01", "override")
    assert resolver.resolve("crane").synset == "crane.n.05"
    assert resolver.resolve("bat").rule == "physical"  # the others still follow the rule


def test_head_noun_fallback_is_reported_and_optional(wn) -> None:
    found = Resolver(wn).resolve("ankle boot")
    assert (found.synset, found.lemma, found.exact) == ("boot.n.01", "boot", False)
    assert "head noun 'boot'" in found.summary()
    assert Resolver(wn, head_noun_fallback=False).resolve("ankle boot").synset is None


@pytest.mark.parametrize("cls, detail", [
    ("xyzzy", "no noun 'xyzzy'"),
    (ClassRef(name="x", class_id="n99999999"), "no synset 'n99999999'"),
    (ClassRef(name="run", class_id="v01926329"), "not a noun synset"),
])
def test_unresolved_says_why(wn, cls, detail) -> None:
    found = Resolver(wn).resolve(cls)
    assert found.synset is None and found.rule == "unresolved" and detail in found.detail


def test_bad_imagenet_list_is_an_error_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "ids.txt"
    bad.write_text("n01440764\ngoldfish\n")
    with pytest.raises(InputError, match=str(bad)):
        read_imagenet_ids(bad)
    with pytest.raises(InputError, match="cannot read"):
        read_imagenet_ids(tmp_path / "missing.txt")
    good = tmp_path / "two.txt"
    good.write_text("n01440764\nn02084071\n")
    assert read_imagenet_ids(good) == {"n01440764", "n02084071"}


def test_spelling_variants_are_stated_and_numbers_are_numbers(source) -> None:
    hihat = source.resolve("hi-hat")
    assert "short spelling" in hihat.detail and "high_hat" in hihat.detail
    apart = source.resolve("hi hat")   # tried as the cymbal before the head-noun fallback ("a kind of hat")
    assert apart.exact and apart.synset == hihat.synset and "short spelling" in apart.detail
    assert not source.resolve("ankle boot").exact   # a name no lemma spells still falls back to its head noun
    assert source.resolve("three").rule == "number"
    digit = source.resolve("the digit 3")
    assert digit.synset == "three.n.01" and digit.exact   # the number itself, not "a kind of three"
