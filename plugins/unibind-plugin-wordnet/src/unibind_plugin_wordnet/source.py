"""The ``wordnet`` description source: WordNet 3.0 entries as sentences about each class.

The stream for a class is deterministic for (settings, seed): the chosen
relations' sentences taken one of each in turn (gloss, synonyms, hypernyms,
examples, parts, wholes, hyponyms, then round again), so even a small
``--per-class`` covers every relation. A seed other than 0 shuffles the
order within each relation. A class WordNet cannot resolve yields a single
``Rejected(reason="unresolved")``. Every draft's ``meta`` names its relation,
synset, the rule that chose the synset and whether the name was ambiguous.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from unibind.knowledge.records import WORDNET_ID, ClassRef, DescriptionDraft, Rejected
from unibind.knowledge.sources import skip
from unibind_plugin_wordnet.layout import load_wordnet
from unibind_plugin_wordnet.phrases import make_subject, words
from unibind_plugin_wordnet.resolve import SYNSET_NAME, Resolution, Resolver, read_imagenet_ids
from unibind_plugin_wordnet.sentences import Relations
from unibind_plugin_wordnet.settings import WordNetSettings


class WordNetSource:
    """Class descriptions from WordNet (no model: ``model`` names the database version)."""

    prompt = ""

    def __init__(self, settings: WordNetSettings | None = None):
        self.settings = settings or WordNetSettings()
        self.wn = load_wordnet(self.settings.wordnet_dir)
        self.model = f"WordNet {self.wn.get_version() or '3.0'}"
        self.resolver = Resolver(self.wn, rule=self.settings.rule,
                                 imagenet_ids=read_imagenet_ids(self.settings.imagenet_synsets),
                                 senses=self.settings.senses, head_noun_fallback=self.settings.head_noun_fallback)

    def resolve(self, cls: ClassRef | str) -> Resolution:
        """Which synset a class stands for, the other candidates and the rule that chose."""
        return self.resolver.resolve(cls)

    def _stream(self, cls: ClassRef, seed: int) -> Iterator[DescriptionDraft | Rejected]:
        found = self.resolve(cls)
        if found.synset is None:
            yield Rejected(reason="unresolved", text=cls.name, detail=found.detail)
            return
        synset = self.wn.synset(found.synset)
        if WORDNET_ID.match(cls.name) or SYNSET_NAME.match(cls.name):  # named by id only
            name = words(synset.lemma_names()[0])
        elif self.settings.subject == "lemma" and found.exact:
            name = words(found.lemma or synset.lemma_names()[0])
        else:
            name = cls.text_name
        subject = make_subject(name, synset, self.wn, found.lemma)
        relations = Relations(self.wn, self.settings, synset, subject, exact=found.exact, own_lemma=found.lemma)
        base = {"synset": found.synset, "synset_id": found.synset_id, "rule": found.rule,
                "ambiguous": found.ambiguous, "exact": found.exact}
        if found.ambiguous:
            base["candidates"] = found.candidates
        groups = relations.all(seed).values()
        for item in itertools.chain.from_iterable(itertools.zip_longest(*groups)):
            if item is None:
                continue
            meta = {"relation": item.relation, **base}
            if item.related:
                meta["related"] = item.related
            yield DescriptionDraft(text=item.text, prompt=item.template, meta=meta)

    def describe(self, cls: ClassRef, n: int, *, modality: str | None = None, seed: int = 0,
                 start: int = 0) -> Iterator[DescriptionDraft | Rejected]:
        """The class's stream from item ``start`` (WordNet speaks of no modality; ``n`` is not a cap)."""
        return skip(self._stream(cls, seed), start)

    def class_descriptions(self, class_name: str, modality: str | None = None) -> list[str]:
        """Every sentence for the class, in stream order (empty when WordNet cannot resolve it)."""
        return [item.text for item in self._stream(ClassRef.parse(class_name), 0)
                if isinstance(item, DescriptionDraft)]
