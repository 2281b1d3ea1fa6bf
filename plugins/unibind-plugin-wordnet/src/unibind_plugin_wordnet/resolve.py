"""Class names and ImageNet ids to WordNet noun synsets, with the choice stated and reported.

Resolution, in order:

1. a sense fixed in the settings (``senses``: class name -> id or synset name);
2. the class's WordNet/ImageNet id (``n02084071``: "n" + the 8-digit noun offset), or a name that
   is an id or a synset name (``dog.n.01``);
3. the name's noun lemmas: each ``/``-, ``,``- or ``;``-separated alternative in turn ("T-shirt/top"
   tries "T-shirt" first), spaces as underscores, hyphens as written, as underscores or dropped,
   plurals through WordNet's morphology ("mice" -> "mouse"); the first alternative with any noun
   sense gives the candidates, in WordNet's sense order (most frequent first);
4. a lemma spelled with the same letters once spaces, hyphens and underscores go ("tshirt" ->
   "t-shirt"), else the one lemma the name is with one or two letters left out ("hi-hat", "hi hat"
   -> "high_hat"), stated in the detail;
5. with ``head_noun_fallback``, a multi-word name WordNet lacks takes its last word ("ankle boot"
   -> "boot"); the class is then described as a *kind of* that synset (``exact=False``).
   A class still unresolved is reported and skipped; the other classes are described.

A number word or digit ("three", "7") resolves to the number (noun.quantity), not the
playing card or domino that shares the word.

The ambiguity rule, when a name has several noun senses (``rule`` setting):

- ``imagenet`` (default): the most frequent sense that is an ImageNet-1k class; else
- ``physical``: the most frequent sense that is a physical thing (below ``physical_entity.n.01``)
  and not an instance (a named person or place); else
- ``frequent``: WordNet's first, most frequent sense.

So "crane" is the lifting machine (n03126707; the bird is ImageNet-1k too but a rarer sense),
"mouse" is the computer mouse (n03793489, ImageNet-1k; the rodent is not), "bat" is the animal
(bat.n.01: no ImageNet-1k sense, and the first physical one). A name that should mean something
else gets a fixed sense in ``senses``. Every :class:`Resolution` records the candidates and the
rule that chose, and the source copies both into each description's ``meta``.
"""

from __future__ import annotations

import importlib.util
import re
import warnings
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from unibind.errors import InputError
from unibind.knowledge.records import WORDNET_ID, ClassRef

SYNSET_NAME = re.compile(r"^\S+\.[nvasr]\.\d+$")
_ALTERNATIVES = re.compile(r"\s*[/,;]\s*")


class Resolution(BaseModel):
    """Which noun synset a class name stands for, which others it could have meant, and why."""

    query: str = Field(description="The class as given.")
    synset: str | None = Field(default=None, description="Chosen synset, e.g. 'dog.n.01'; None: unresolved.")
    synset_id: str | None = Field(default=None, description="Its ImageNet-style id, e.g. 'n02084071'.")
    lemma: str | None = Field(default=None, description="The form of the name that matched.")
    candidates: list[str] = Field(default_factory=list, description="Noun senses considered, most frequent first.")
    rule: str = Field(description="What chose: override, id, unique, number, imagenet-1k, physical, "
                                  "most-frequent, unresolved.")
    exact: bool = Field(default=True, description="False: resolved by the head noun; the class is a kind of it.")
    detail: str = ""

    @property
    def ambiguous(self) -> bool:
        return len(self.candidates) > 1

    def summary(self) -> str:
        """One line for people: ``crane -> crane.n.04 (n03126707) by imagenet-1k among 5 senses``."""
        if self.synset is None:
            return f"{self.query} -> unresolved ({self.detail})"
        how = self.rule if self.exact else f"head noun '{self.lemma}', {self.rule}"
        among = f" among {len(self.candidates)} senses: {', '.join(self.candidates)}" if self.ambiguous else ""
        return f"{self.query} -> {self.synset} ({self.synset_id}) by {how}{among}"


def synset_id(synset: Any) -> str:
    """ImageNet-style id: part of speech + 8-digit offset ('n02084071')."""
    return f"{synset.pos()}{synset.offset():08d}"


def read_imagenet_ids(path: str | Path | None = None) -> frozenset[str]:
    """ImageNet-1k ids from a file (one per line); default timm's list, empty when timm is absent.

    timm is located, not imported (importing it pulls in torch).
    """
    if path is None:
        spec = importlib.util.find_spec("timm")
        if spec is None or not spec.submodule_search_locations:
            return frozenset()
        path = Path(next(iter(spec.submodule_search_locations))) / "data" / "_info" / "imagenet_synsets.txt"
        if not path.is_file():
            return frozenset()
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").split()
    except OSError as exc:
        raise InputError(path, f"cannot read the ImageNet synset list: {exc}") from exc
    bad = [line for line in lines if not WORDNET_ID.match(line)]
    if bad or not lines:
        raise InputError(path, f"not a list of WordNet ids like n02084071 (first bad entry: {bad[:1] or 'none'})")
    return frozenset(lines)


def name_forms(text: str) -> list[str]:
    """Lemma spellings to try for one alternative of a name, in order, without repeats."""
    base = "_".join(text.split())
    forms = [base, base.replace("-", "_"), base.replace("-", ""), base.replace("_", "-"), base.replace("_", "")]
    return list(dict.fromkeys(f for f in forms if f))


_LEFT_OUT = 2
_NUMBER_WORDS = frozenset("zero one two three four five six seven eight nine ten eleven twelve".split())


def _squash(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", text).casefold()


def _is_subsequence(short: str, long: str) -> bool:
    letters = iter(long)
    return all(c in letters for c in short)


def _is_numeral(name: str) -> bool:
    word = name.strip().casefold()
    return word.isdigit() or word in _NUMBER_WORDS


_SQUASHED: dict[int, dict[str, str]] = {}


def _squashed_lemmas(wordnet: Any) -> dict[str, str]:
    """Every noun lemma by its squashed spelling (first one wins), built once per loaded WordNet."""
    table = _SQUASHED.get(id(wordnet))
    if table is None:
        table = {}
        for lemma in wordnet.all_lemma_names(pos="n"):
            table.setdefault(_squash(lemma), lemma)
        _SQUASHED[id(wordnet)] = table
    return table


class Resolver:
    """Resolves classes on one loaded WordNet with one rule (see the module docstring)."""

    def __init__(self, wordnet: Any, *, rule: str = "imagenet", imagenet_ids: frozenset[str] = frozenset(),
                 senses: dict[str, str] | None = None, head_noun_fallback: bool = True):
        self.wn = wordnet
        self.rule = rule
        self.imagenet_ids = imagenet_ids
        self.senses = {" ".join(k.replace("_", " ").split()).casefold(): v for k, v in (senses or {}).items()}
        self.head_noun_fallback = head_noun_fallback
        self._physical = wordnet.synset("physical_entity.n.01")

    # -- lookups --------------------------------------------------------------------------
    def synset_by_key(self, key: str) -> Any:
        """A synset from an id ('n02084071') or a synset name ('dog.n.01'); None when WordNet lacks it."""
        from nltk.corpus.reader.wordnet import WordNetError

        key = key.strip()
        try:
            if WORDNET_ID.match(key):
                with warnings.catch_warnings():  # nltk warns and returns None for an unknown offset
                    warnings.simplefilter("ignore", UserWarning)
                    return self.wn.synset_from_pos_and_offset(key[0], int(key[1:]))
            if SYNSET_NAME.match(key):
                return self.wn.synset(key)
        except (WordNetError, ValueError):
            return None
        return None

    def noun_senses(self, name: str) -> tuple[str | None, list[Any]]:
        """(matched form, noun synsets in sense order) for the first alternative of ``name`` that has any."""
        for alternative in _ALTERNATIVES.split(name.strip()):
            for form in name_forms(alternative):
                found = list(dict.fromkeys(self.wn.synsets(form, pos="n")))
                if found:
                    return alternative, found
        return None, []

    def spelling_variant(self, name: str) -> tuple[str | None, str]:
        """A WordNet noun lemma spelled like ``name``, and how it matched.

        First the same letters once spaces, hyphens and underscores go
        ("tshirt" -> "t-shirt"); else the one lemma that is the name with one
        or two letters left out of it, as short spellings write it ("hihat"
        -> "high_hat"). Two such lemmas, or none, and the name stays unresolved:
        a guess between them would be a silent wrong answer.
        """
        wanted = _squash(_ALTERNATIVES.split(name.strip())[0])
        if len(wanted) < 4:
            return None, ""
        lemmas = _squashed_lemmas(self.wn)
        if wanted in lemmas:
            return lemmas[wanted], "same letters"
        longer = [key for key in lemmas if 0 < len(key) - len(wanted) <= _LEFT_OUT and key[0] == wanted[0]
                  and _is_subsequence(wanted, key)]
        if len(longer) == 1:
            return lemmas[longer[0]], "short spelling"
        return None, ""

    def is_physical(self, synset: Any) -> bool:
        return not synset.instance_hypernyms() and any(self._physical in path for path in synset.hypernym_paths())

    # -- the rule ---------------------------------------------------------------------------
    def choose(self, candidates: list[Any], *, numeral: bool = False) -> tuple[Any, str]:
        """The chosen synset and the rule that chose it.

        A number word or digit ("three", "7") means the number (noun.quantity),
        not the playing card or domino that shares the word.
        """
        if len(candidates) == 1:
            return candidates[0], "unique"
        if numeral:
            for s in candidates:
                if s.lexname() == "noun.quantity":
                    return s, "number"
        if self.rule == "imagenet":
            for s in candidates:
                if synset_id(s) in self.imagenet_ids:
                    return s, "imagenet-1k"
        if self.rule in ("imagenet", "physical"):
            for s in candidates:
                if self.is_physical(s):
                    return s, "physical"
        return candidates[0], "most-frequent"

    def resolve(self, cls: ClassRef | str) -> Resolution:
        ref = ClassRef.parse(cls) if isinstance(cls, str) else cls
        query = ref.name if not ref.class_id or ref.class_id == ref.name else f"{ref.class_id} {ref.name}"
        fixed = self.senses.get(ref.text_name.casefold()) or (self.senses.get(ref.class_id.casefold())
                                                               if ref.class_id else None)
        if fixed is not None:
            return self._direct(query, fixed, "override")
        if ref.class_id:
            return self._direct(query, ref.class_id, "id")
        if SYNSET_NAME.match(ref.name):
            return self._direct(query, ref.name, "id")
        lemma, candidates = self.noun_senses(ref.text_name)
        exact = True
        spelled = ""
        if not candidates:   # "hi hat" is the cymbal spelled apart, before it is a kind of hat
            variant, spelled = self.spelling_variant(ref.text_name)
            if variant is not None:
                lemma, candidates = variant, list(dict.fromkeys(self.wn.synsets(variant, pos="n")))
        if not candidates and self.head_noun_fallback:
            words = re.split(r"[\s_]+", _ALTERNATIVES.split(ref.text_name.strip())[0])
            if len(words) > 1:
                lemma, candidates = self.noun_senses(words[-1])
                exact = _is_numeral(words[-1])   # "the digit 3" is the number 3 itself, not a kind of it
        if not candidates:
            return Resolution(query=query, rule="unresolved", detail=f"WordNet has no noun {ref.text_name!r} "
                              "(nor one spelled alike); give its WordNet id or a sense in the settings")
        chosen, rule = self.choose(candidates, numeral=_is_numeral(ref.text_name))
        return Resolution(query=query, synset=chosen.name(), synset_id=synset_id(chosen), lemma=lemma,
                          candidates=[s.name() for s in candidates], rule=rule, exact=exact,
                          detail=f"read as {lemma!r} ({spelled})" if spelled else "")

    def _direct(self, query: str, key: str, rule: str) -> Resolution:
        synset = self.synset_by_key(key)
        if synset is None:
            return Resolution(query=query, rule="unresolved", detail=f"WordNet has no synset {key!r}")
        if synset.pos() != "n":
            return Resolution(query=query, rule="unresolved", detail=f"{key!r} is not a noun synset")
        return Resolution(query=query, synset=synset.name(), synset_id=synset_id(synset),
                          lemma=synset.lemma_names()[0].replace("_", " "), candidates=[synset.name()], rule=rule)
