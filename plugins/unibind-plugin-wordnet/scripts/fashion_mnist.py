"""How many WordNet descriptions each Fashion-MNIST class gets, and how its name resolved.

Builds a throw-away knowledge base with ``per_class`` far above what WordNet yields, so the
kept count is everything the default settings produce. Prints a Markdown table.
Run: ``.venv/bin/python plugins/unibind-plugin-wordnet/scripts/fashion_mnist.py``
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

from unibind.datasets import FASHION_MNIST_CLASSES
from unibind.knowledge.builder import build_knowledge_base
from unibind.knowledge.records import ClassRef
from unibind.knowledge.store import KnowledgeBase
from unibind_plugin_wordnet.source import WordNetSource


def main() -> None:
    source = WordNetSource()
    refs = [ClassRef(name=name) for name in FASHION_MNIST_CLASSES]
    with tempfile.TemporaryDirectory() as tmp, KnowledgeBase(Path(tmp) / "kb.sqlite", create=True) as kb:
        report = build_knowledge_base(kb, refs, [("wordnet", None)], per_class=1000, progress=False)
        print("| class | kept | resolved to | rule | senses | relations |")
        print("|---|---:|---|---|---:|---|")
        for ref in refs:
            texts = kb.descriptions(kb.find_classes(ref.name))
            found = source.resolve(ref)
            how = found.rule if found.exact else f"head noun '{found.lemma}', {found.rule}"
            relations = Counter(d.meta["relation"] for d in texts)
            print(f"| {ref.name} | {len(texts)} | {found.synset} ({found.synset_id}) | {how} | "
                  f"{len(found.candidates)} | {', '.join(f'{k} {v}' for k, v in relations.items())} |")
        summary = report.sources[0]
        print(f"\ntotal kept {summary.kept}, generated {summary.generated}, rejected {summary.rejected or 'none'}")


if __name__ == "__main__":
    main()
