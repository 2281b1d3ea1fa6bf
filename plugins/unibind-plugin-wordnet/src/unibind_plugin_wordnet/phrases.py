"""Small English helpers for turning WordNet entries into sentences: articles, names, glosses."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_SILENT_H = re.compile(r"^(hour|honest|honou?r|heir)")
_YOU_SOUND = re.compile(r"^(uni|use|usu|ut[aeiou]|eu|ewe|one\b|once|u[bcfgjklqrstvz][aeiou])")
_VOWEL_LETTERS = set("aefhilmnorsx")  # letters whose spoken name starts with a vowel: "an X-ray"


def article(phrase: str) -> str:
    """'a' or 'an' for a noun phrase, by its sound as far as spelling tells."""
    word = phrase.split()[0] if phrase.split() else phrase
    lower = word.lower()
    if (len(word) == 1 or (len(word) > 1 and not word[1].isalpha()) or word.isupper()) and word[:1].isalpha():
        return "an" if lower[0] in _VOWEL_LETTERS else "a"  # a letter or an acronym: "an MRI", "a T-shirt"
    if _SILENT_H.match(lower):
        return "an"
    if _YOU_SOUND.match(lower):
        return "a"
    return "an" if lower[:1] in "aeiou" else "a"


def words(lemma: str) -> str:
    """A lemma as words: 'tee_shirt' -> 'tee shirt'."""
    return lemma.replace("_", " ")


def is_proper(lemma: str) -> bool:
    """'Canis', 'Canis familiaris': capitalised and read without an article (not 'T-shirt')."""
    return len(lemma) > 1 and lemma[0].isupper() and lemma[1].islower()


def noun_phrase(lemma: str, synset: Any = None, *, proper_ok: bool = True) -> str:
    """The lemma with its article; names (instances, capitalised lemmas) without one."""
    text = words(lemma)
    if (synset is not None and synset.instance_hypernyms()) or (proper_ok and is_proper(text)):
        return text
    return f"{article(text)} {text}"


def gloss(synset: Any) -> str:
    """The definition, with a leading '(usually in the plural)'-style remark dropped."""
    text = synset.definition().strip()
    text = re.sub(r"^\([^)]*\)\s*", "", text)
    return text.rstrip(" ;.")


_DETERMINER = re.compile(r"^(a|an|the|any|one|either|each|some|something|someone|anything|all|two|"
                         r"several|various|many)\b", re.IGNORECASE)


def starts_with_determiner(text: str) -> bool:
    """'a garment ...', 'any of ...': a gloss that reads as a predicate after 'is'."""
    return bool(_DETERMINER.match(text))


def sentence(text: str) -> str:
    """Capitalised first letter, one final full stop."""
    text = " ".join(text.split()).rstrip(" ;")
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def join_or(items: list[str], conjunction: str = "or") -> str:
    """'a, b or c'."""
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


@dataclass(frozen=True)
class Subject:
    """How sentences name the class: 'a dog is', 'trousers are', 'water is'."""

    text: str
    plural: bool = False
    mass: bool = False

    @property
    def phrase(self) -> str:
        if self.plural or self.mass or is_proper(self.text) or starts_with_determiner(self.text):
            return self.text   # "the digit 3 is ...", never "a the digit 3"
        return f"{article(self.text)} {self.text}"

    @property
    def be(self) -> str:
        return "are" if self.plural else "is"

    @property
    def have(self) -> str:
        return "have" if self.plural else "has"


def make_subject(name: str, synset: Any, wordnet: Any, matched: str | None = None) -> Subject:
    """The class name as a sentence subject: case, number and countability from WordNet.

    'Trouser' -> 'trouser' when WordNet writes the lemma the name matched in lower case (the
    matched form, else the name, else the synset's first lemma; 'T-shirt/top' stays); a plural name ('mice') is plural when WordNet's morphology reduces its last word;
    substances take no article.
    """
    text = " ".join(name.replace("_", " ").split())
    first = text.split()[0]
    lemmas = [words(lemma) for lemma in synset.lemma_names()]
    key = words(matched or text).casefold()
    same = [lemma for lemma in lemmas if lemma.casefold() == key] or lemmas[:1]
    if first[:1].isupper() and first[1:] == first[1:].lower() and not same[0][:1].isupper():
        text = text[0].lower() + text[1:]
    last = text.split()[-1].lower()
    base = wordnet.morphy(last, "n")
    plural = base is not None and base != last
    mass = synset.lexname() == "noun.substance"
    return Subject(text=text, plural=plural, mass=mass)
