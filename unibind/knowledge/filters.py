"""Parsing and filtering what a language model writes, shared by every LLM description source.

Small models (and large ones at high temperature) return lists with
numbering, empty lines, the same sentence twice, a sentence cut off by the
token limit, text about some other class, or another language. Every
generated candidate goes through :meth:`DescriptionFilter.check`, which
either accepts it or names the reason, so ``unibind kb build`` can report
generated / kept / rejected-and-why per source.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from pydantic import BaseModel, Field

from unibind.knowledge.records import MAX_TEXT_CHARS, ClassRef, DescriptionDraft, Rejected, normalise_text

#: Leading list markers an LLM puts before items: "1.", "2)", "-", "*", "•", "Description 3:".
_MARKER = re.compile(r"^\s*(?:(?:description|item)\s*\d+\s*[:.)-]|\d+\s*[.):-]|(?:[-*•·]\s*)+)\s*", re.IGNORECASE)
_QUOTES = "\"'“”‘’`"
_SENTENCE_END = (".", "!", "?", ".\"", ".”", "!\"", "?\"")
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", re.UNICODE)

#: Function words that nearly every English sentence of a few words contains at least one of.
_ENGLISH = frozenset(
    "a an the of and or is are was were be it its this that these those with in on at to for from by as has have "
    "can may often usually typically which who its their they them".split()
)


def split_candidates(text: str) -> list[str]:
    """One candidate per non-empty line, with list markers and surrounding quotes removed.

    An empty string stays as one empty candidate so the caller can count it
    as ``empty``; a reply with several lines yields one candidate per line.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return [""]
    return [clean_candidate(line) for line in lines]


def clean_candidate(text: str) -> str:
    """Strip list markers, quotes and surrounding whitespace from one candidate."""
    text = _MARKER.sub("", text.strip(), count=1).strip()
    if len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    return " ".join(text.split())


@functools.lru_cache(maxsize=1)
def _language_tools() -> tuple[Any, Any]:
    """inflect's engine (irregular plurals) and the Snowball stemmer, built once."""
    import inflect
    from nltk.stem.snowball import SnowballStemmer

    return inflect.engine(), SnowballStemmer("english")


@functools.lru_cache(maxsize=65536)
def _stems(word: str) -> frozenset[str]:
    """Snowball stems of the word and of its singular ("mice" -> "mouse", "wolves" -> "wolf").

    Both are kept because inflect also singularises words that are not
    plural ("bus" -> "bu"); two words match when their stem sets meet.
    """
    plural, stemmer = _language_tools()
    word = word.casefold()
    singular = plural.singular_noun(word) if word.isascii() else False
    stems = {stemmer.stem(word)}
    if isinstance(singular, str) and singular:
        stems.add(stemmer.stem(singular))
    return frozenset(stems)


def words(text: str) -> list[str]:
    """The words of a text (letters, with inner apostrophes and hyphens)."""
    return _WORD.findall(text)


def mentions(text: str, name: str) -> bool:
    """Whether ``text`` names ``name``: all of the name's words, compared singularised and stemmed.

    "Ankle boots are ..." mentions "ankle boot"; "T-shirts ..." mentions
    "T-shirt/top" through its first alternative.
    """
    found = frozenset().union(*(_stems(w) for w in words(text)))
    for alternative in re.split(r"[/,]| or ", name):
        wanted = [_stems(w) for w in words(alternative)]
        if wanted and all(w & found for w in wanted):
            return True
    return False


#: Languages a language model drifts into when asked for English descriptions; the detector
#: chooses among these and English only, which keeps it fast and its answers stable.
_CONFUSABLE = ("GERMAN", "FRENCH", "DUTCH", "ITALIAN", "SPANISH", "PORTUGUESE", "SWEDISH", "DANISH",
               "BOKMAL", "AFRIKAANS", "LATIN", "INDONESIAN", "TAGALOG")


_SURE_OF_ANOTHER_LANGUAGE = 0.5


@functools.lru_cache(maxsize=1)
def _language_detector() -> Any:
    from lingua import Language, LanguageDetectorBuilder

    languages = [Language.ENGLISH, *(getattr(Language, name) for name in _CONFUSABLE)]
    return LanguageDetectorBuilder.from_languages(*languages).build()


def looks_english(text: str) -> bool:
    """Whether ``text`` is English: Latin script, and not confidently another language (lingua).

    Fewer than four words cannot be told apart reliably and pass (the
    ``min_words`` rule judges them).
    """
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return False
    latin = sum(1 for c in letters if "LATIN" in unicodedata.name(c, ""))
    if latin / len(letters) < 0.9:
        return False
    tokens = [w.casefold() for w in words(text)]
    if len(tokens) < 4:
        return True
    from lingua import Language

    ranked = _language_detector().compute_language_confidence_values(text)
    top = ranked[0] if ranked else None
    # Short English sentences spread their confidence thinly ("A dog is a loyal pet": Danish 0.16,
    # English 0.11); another language is only called when the identifier is sure of it.
    return top is None or top.language == Language.ENGLISH or top.value < _SURE_OF_ANOTHER_LANGUAGE


def has_degenerate_repetition(text: str, n: int = 3, times: int = 3) -> bool:
    """True when one word n-gram occurs ``times`` or more: the loop small models fall into."""
    tokens = [w.casefold() for w in words(text)]
    counts: dict[tuple[str, ...], int] = {}
    for i in range(len(tokens) - n + 1):
        gram = tuple(tokens[i:i + n])
        counts[gram] = counts.get(gram, 0) + 1
        if counts[gram] >= times:
            return True
    return False


class FilterSettings(BaseModel):
    """What a generated description must be to be kept."""

    min_words: int = Field(default=4, ge=1, description="Fewer words: rejected as too_short.")
    max_words: int = Field(default=60, ge=1, description="More words: rejected as too_long.")
    require_mention: bool = Field(
        default=True, description="Reject as off_class a text that does not name its class (or an alias).")
    require_sentence_end: bool = Field(
        default=True, description="Reject as truncated a text that does not end like a sentence.")
    english_only: bool = Field(default=True, description="Reject as not_english what does not look English.")


class DescriptionFilter:
    """Accepts or rejects generated candidates for one class, remembering what it kept."""

    def __init__(self, cls: ClassRef, settings: FilterSettings | None = None, *,
                 aliases: Sequence[str] = (), other_classes: Sequence[str] = ()):
        self.cls = cls
        self.settings = settings or FilterSettings()
        self.names = [cls.text_name, *aliases]
        self.other_classes = [c for c in other_classes if c.casefold() != cls.text_name.casefold()]
        self.seen: set[str] = set()

    def reason(self, text: str, *, finished: bool = True) -> str | None:
        """The rejection code for ``text``, or None when it is kept.

        ``finished`` is False when generation stopped at the token limit
        rather than at an end of sequence: the text is then truncated
        unless it happens to end a sentence.
        """
        s = self.settings
        if not text.strip():
            return "empty"
        norm = normalise_text(text)
        if norm in self.seen or has_degenerate_repetition(text):
            return "repeated"
        ends = text.rstrip().endswith(_SENTENCE_END)
        if (not finished and not ends) or (s.require_sentence_end and not ends):
            return "truncated"
        count = len(words(text))
        if count > s.max_words or len(text) > MAX_TEXT_CHARS:
            return "too_long"
        if count < s.min_words:
            return "too_short"
        if s.english_only and not looks_english(text):
            return "not_english"
        if s.require_mention and not any(mentions(text, name) for name in self.names):
            return "off_class"
        if any(mentions(text, other) for other in self.other_classes) and not any(
                mentions(text, name) for name in self.names):
            return "off_class"
        return None

    def check(self, text: str, *, finished: bool = True, **draft: object) -> DescriptionDraft | Rejected:
        """A draft (remembered, so a repeat is caught) or a rejection naming why."""
        text = " ".join(text.split())
        why = self.reason(text, finished=finished)
        if why is not None:
            return Rejected(reason=why, text=text[:MAX_TEXT_CHARS] or None)
        self.seen.add(normalise_text(text))
        return DescriptionDraft(text=text, **draft)

    def run(self, replies: Iterable[tuple[str, bool]], **draft: object) -> Iterator[DescriptionDraft | Rejected]:
        """Split each ``(reply, finished)`` into candidates and check them in order.

        Only the last candidate of an unfinished reply can have been cut off
        by the token limit; the lines before it ended normally.
        """
        for reply, finished in replies:
            candidates = split_candidates(reply)
            for i, candidate in enumerate(candidates):
                last = i == len(candidates) - 1
                yield self.check(candidate, finished=finished or not last, **draft)
