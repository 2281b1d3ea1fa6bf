"""The demo's ECL top-1 with the space's saved centres against the centres the demo used to rebuild.

Before one source of truth, ``unibind demo`` rebuilt its ECL centres from its
knowledge base with the photo prompt ("a photo of a {}.") for every modality;
now it scores with the trained space's saved per-modality sets, as ``classify
--space`` and ``eval report --space`` do. This prints both on one finished
demo directory's held-out items (features from its cache; nothing is trained
or written)::

    UNIBIND_CACHE_DIR=/tmp/dc-cache nice -n 10 .venv/bin/python scripts/demo_centres_compare.py /tmp/dc-demo
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    import torch

    from unibind.demo import MODALITIES
    from unibind.features import FeatureCache, FrozenEncoder, extract_features
    from unibind.knowledge.centres import CentreSettings, localize
    from unibind.knowledge.records import ClassRef
    from unibind.knowledge.store import KnowledgeBase
    from unibind.knowledge.textcache import TextEmbedder
    from unibind.space import Space

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("demo", type=Path, help="A `unibind demo --out` directory.")
    out = parser.parse_args().demo
    results = json.loads((out / "results.json").read_text())
    classes = results["classes"]
    rows = [json.loads(line) for line in (out / "test.jsonl").read_text().splitlines()]
    label = {r["path"]: r["label"] for r in rows}
    before, after = Space(), Space.from_dir(out / "space")
    k = after.centre_set(None, classes, MODALITIES[0]).meta.settings.k  # the demo's --k, as the space saved it
    with KnowledgeBase(out / "kb.sqlite", read_only=True) as kb:  # the demo's former ECL centres
        rebuilt = localize([ClassRef(name=c) for c in classes], TextEmbedder.from_space(before),
                           CentreSettings(method="ecl", k=k, on_empty="prompt"), kb=kb, progress=False)
    for m in MODALITIES:
        frozen = FrozenEncoder.from_space(before, m)
        feats = extract_features([r["path"] for r in rows if r["modality"] == m], frozen,
                                 FeatureCache(out / "features", frozen.cache_identity), progress=False)
        truth = torch.tensor([classes.index(label[s]) for s in feats.sources])
        saved = after.centre_set(None, classes, m)
        for stage, space in (("before", before), ("after", after)):
            vectors = space.embed_features(m, feats.vectors)
            right = {name: int((c.score(vectors).argmax(1) == truth).sum()) for name, c in
                     (("rebuilt, photo prompt", rebuilt), ("saved, per modality", saved))}
            print(f"{m}/{stage}: " + ", ".join(f"{k} {v}/{len(truth)} = {v / len(truth):.3f}" for k, v in right.items())
                  + f"; demo reported {results['accuracy'][f'{m}/{stage}']['ECL']:.3f}")


if __name__ == "__main__":
    main()
