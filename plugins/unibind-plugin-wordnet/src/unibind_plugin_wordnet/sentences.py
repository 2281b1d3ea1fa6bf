"""WordNet relations of one synset as sentences about a class, one list per relation.

Each sentence comes with the template that made it (kept as the draft's
``prompt``) and the synset it draws on. A class resolved by its head noun
("ankle boot" -> boot) is a *kind of* that synset: its sentences say so, and
the relations that would be false for it (synonyms, examples, narrower kinds,
wholes) are left out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from unibind_plugin_wordnet.phrases import (
    Subject,
    gloss,
    join_or,
    noun_phrase,
    sentence,
    starts_with_determiner,
    words,
)
from unibind_plugin_wordnet.resolve import synset_id
from unibind_plugin_wordnet.settings import WordNetSettings

#: Too abstract to say anything: a chain stops before these.
ABSTRACT_TOPS = frozenset({
    "entity.n.01", "physical_entity.n.01", "abstraction.n.06", "object.n.01", "whole.n.02", "thing.n.12",
    "matter.n.03", "psychological_feature.n.01", "causal_agent.n.01", "living_thing.n.01",
})
#: Narrower kinds named per "Kinds of X include ..." sentence.
KINDS_PER_LIST = 4


def ordered(synsets: list[Any]) -> list[Any]:
    """Related synsets by name: nltk keeps a synset's pointers in a set of (pos, offset) tuples, whose
    order changes with each process's string hashing, so its lists would make the stream (and a resumed
    build's cursor) differ from run to run."""
    return sorted(synsets, key=lambda s: s.name())


@dataclass(frozen=True)
class Sentence:
    text: str
    template: str
    relation: str
    related: str | None = None  # the other synset the sentence names, if any


@dataclass
class Relations:
    """Builds the sentences of every relation for one synset and subject."""

    wn: Any
    settings: WordNetSettings
    synset: Any
    subject: Subject
    exact: bool = True
    own_lemma: str | None = None
    out: list[Sentence] = field(default_factory=list)

    # -- helpers --------------------------------------------------------------------------
    def _say(self, relation: str, template: str, related: Any = None, **slots: str) -> Sentence:
        values = {"subject": self.subject.phrase, "name": self.subject.text, "be": self.subject.be,
                  "have": self.subject.have, **slots}
        return Sentence(sentence(template.format(**values)), template, relation,
                        related.name() if related is not None else None)

    def chain(self) -> list[Any]:
        """Ancestors nearest first along the longest hypernym path, abstract tops dropped."""
        paths = sorted(self.synset.hypernym_paths(), key=lambda path: [s.name() for s in path])
        longest = max(paths, key=len) if paths else [self.synset]   # ties: the first by name, in any process
        ancestors = [s for s in reversed(longest[:-1]) if s.name() not in ABSTRACT_TOPS]
        if not self.exact:
            ancestors = [self.synset, *ancestors]
        return ancestors[: self.settings.hypernym_depth]

    @staticmethod
    def frequency(synset: Any) -> int:
        return sum(lemma.count() for lemma in synset.lemmas())

    # -- relations ------------------------------------------------------------------------
    def gloss(self) -> list[Sentence]:
        if not self.exact:
            return [self._say("gloss", "{subject} {be} a kind of {kind}: {gloss}", self.synset,
                              kind=words(self.synset.lemma_names()[0]), gloss=gloss(self.synset))]
        text = gloss(self.synset)
        if starts_with_determiner(text):
            return [self._say("gloss", "{subject} {be} {gloss}", gloss=text)]
        return [self._say("gloss", "{name}: {gloss}", gloss=text)]  # 'lifts and moves ...': dictionary form

    def synonyms(self) -> list[Sentence]:
        if not self.exact:
            return []
        own = (self.own_lemma or "").replace(" ", "_").casefold()
        others = [lemma for lemma in self.synset.lemma_names()
                  if lemma.casefold() not in (own, self.subject.text.replace(" ", "_").casefold())]
        if not others:
            return []
        phrases = [noun_phrase(lemma) for lemma in others]
        out = [self._say("synonyms", "{subject} {be} also called {others}", others=join_or(phrases))]
        for lemma in others:
            out.append(self._say("synonyms", "{other} is another name for {subject}: {gloss}",
                                 other=noun_phrase(lemma), gloss=gloss(self.synset)))
        return out

    def hypernyms(self) -> list[Sentence]:
        chain = self.chain()
        if not chain:
            return []
        out = [self._say("hypernyms", "{subject} {be} {kinds}",
                         kinds=", ".join(f"a kind of {words(s.lemma_names()[0])}" for s in chain))]
        direct = [s for s in ordered(self.synset.hypernyms() + self.synset.instance_hypernyms()) if s not in chain]
        start = 1 if not self.exact else 0  # the head noun itself is already the gloss sentence
        for s in chain[start:] + direct:
            out.append(self._say("hypernyms", "{subject} {be} a kind of {kind}: {gloss}", s,
                                 kind=words(s.lemma_names()[0]), gloss=gloss(s)))
        return out

    def examples(self) -> list[Sentence]:
        if not self.exact:
            return []
        return [Sentence(sentence(example), "{example}", "examples") for example in self.synset.examples()]

    def parts(self) -> list[Sentence]:
        out: list[Sentence] = []
        owners = ([self.synset] if self.exact else []) + self.chain()
        seen: set[Any] = set()
        for owner in owners:
            inherited = owner is not self.synset or not self.exact
            for relation, verb in ((owner.part_meronyms, "{have} {part}"),
                                   (owner.substance_meronyms, "{be} made of {part}")):
                for part in ordered(relation()):
                    if part in seen:
                        continue
                    seen.add(part)
                    template = ("like any {owner}, {subject_lc} " if inherited else "{subject} ") + verb + ": {gloss}"
                    out.append(self._say("parts", template, part, owner=words(owner.lemma_names()[0]),
                                         subject_lc=self.subject.phrase, part=noun_phrase(part.lemma_names()[0]),
                                         gloss=gloss(part)))
        return out[: self.settings.max_parts]

    def wholes(self) -> list[Sentence]:
        if not self.exact:
            return []
        out = []
        for relation, verb in ((self.synset.part_holonyms, "is part of"),
                               (self.synset.member_holonyms, "is a member of"),
                               (self.synset.substance_holonyms, "is found in")):
            for whole in ordered(relation()):
                verb_now = verb.replace("is", self.subject.be, 1)
                out.append(self._say("wholes", "{subject} " + verb_now + " {whole}: {gloss}", whole,
                                     whole=noun_phrase(whole.lemma_names()[0], whole), gloss=gloss(whole)))
        return out

    def hyponyms(self) -> list[Sentence]:
        if not self.exact or self.settings.max_hyponyms == 0:
            return []
        kinds: list[Any] = []
        level = [self.synset]
        for _ in range(self.settings.hyponym_depth):
            below = {h for s in level for h in s.hyponyms()} - set(kinds)
            level = sorted(below, key=lambda s: (-self.frequency(s), s.name()))
            kinds.extend(level)
        kinds = kinds[: self.settings.max_hyponyms]
        out = [self._say("hyponyms", "{kind} is a kind of {name}: {gloss}", k,
                         kind=noun_phrase(k.lemma_names()[0], k, proper_ok=False), gloss=gloss(k)) for k in kinds]
        for i in range(0, len(kinds), KINDS_PER_LIST):
            group = [words(k.lemma_names()[0]) for k in kinds[i:i + KINDS_PER_LIST]]
            out.append(self._say("hyponyms", "kinds of {name} include {kinds}", kinds=join_or(group, "and")))
        return out

    def all(self, seed: int = 0) -> dict[str, list[Sentence]]:
        """Every chosen relation's sentences; a non-zero seed shuffles the order within each."""
        rng = random.Random(f"{seed}:{synset_id(self.synset)}")
        found = {}
        for relation in self.settings.relations:
            items = getattr(self, relation)()
            if seed:
                rng.shuffle(items)
            found[relation] = items
        return found
