"""The main job on the embedded default: ``unibind demo``.

On real data that ships in Debian's ``tuxpaint-stamps-default`` (photo
cut-outs, real sound effects, one-line descriptions) it runs the whole
method once, every step cached or resumable so a second run reuses the
work:

1. a knowledge base of descriptions of the demo classes (prompt templates,
   and WordNet when its plugin is installed), and ECL centres in it;
2. frozen features of every photo and sound, in the feature cache;
3. image and audio adapters trained contrastively on the training stamps,
   each sample against its own description;
4. held-out stamps classified before training (the ImageNet bridge) and
   after (the trained adapters), with template-mean and ECL centres;
   sound-to-image retrieval; an HTML report.

The split is by stamp, so a stamp's photo and sound are both train or both
test. Classes are Tux Paint's own categories, merged where a category is
too small to hold a test sample.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from unibind.atomic import atomic_open
from unibind.datasets import TUXPAINT_STAMPS, Stamp, tuxpaint_stamps

#: Demo class -> the Tux Paint stamp folders it holds (the longest matching prefix wins).
DEMO_CLASSES: dict[str, tuple[str, ...]] = {
    "bird": ("animals/birds",),
    "cattle": ("animals/mammals/bovines",),
    "mammal": ("animals/mammals",),
    "fish": ("animals/fish",),
    "insect": ("animals/insects",),
    "fruit": ("food/fruit",),
    "vegetable": ("food/vegetables",),
    "flower": ("plants/flowers",),
    "tree": ("plants/trees",),
    "road sign": ("town/roadsigns",),
    "tool": ("household/tools",),
    "clothing": ("clothes",),
    "musical instrument": ("hobbies/music",),
    "planet": ("space/planets",),
    "vehicle": ("vehicles",),
    "coin": ("symbols/money/euro/coins", "symbols/money/canadian/coins", "symbols/money/us/coins"),
    "chess piece": ("symbols/chess",),
}

MODALITIES = ("image", "audio")


def demo_class(category: str) -> str | None:
    """The demo class of a stamp folder, by the longest matching prefix (None: not in the demo)."""
    best: tuple[int, str | None] = (0, None)
    for label, prefixes in DEMO_CLASSES.items():
        for prefix in prefixes:
            if (category == prefix or category.startswith(prefix + "/")) and len(prefix) > best[0]:
                best = (len(prefix), label)
    return best[1]


def demo_rows(stamps: Sequence[Stamp]) -> list[dict[str, Any]]:
    """Manifest rows (path, modality, label, description, instance): a photo and, where there is one, a sound."""
    rows = []
    for stamp in stamps:
        label = demo_class(stamp.category)
        if label is None:
            continue
        instance = f"{stamp.category}/{stamp.name}"
        base = {"label": label, "description": stamp.description or None, "instance": instance}
        rows.append({"path": str(stamp.image), "modality": "image", **base})
        if stamp.sound is not None:
            rows.append({"path": str(stamp.sound), "modality": "audio", **base})
    return rows


def split_rows(rows: Sequence[dict[str, Any]], test_fraction: float, seed: int
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Train and test rows, split by instance within each class so every class is tested."""
    by_class: dict[str, list[str]] = {}
    for row in rows:
        instances = by_class.setdefault(row["label"], [])
        if row["instance"] not in instances:
            instances.append(row["instance"])
    rng = random.Random(seed)
    test: set[str] = set()
    for label in sorted(by_class):
        instances = sorted(by_class[label])
        rng.shuffle(instances)
        test.update(instances[:max(1, round(test_fraction * len(instances)))])
    return [r for r in rows if r["instance"] not in test], [r for r in rows if r["instance"] in test]


def write_manifest(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    with atomic_open(path) as f:
        f.writelines(json.dumps(r, sort_keys=True) + "\n" for r in rows)
    return path


@dataclass
class DemoConfig:
    out: Path
    test_fraction: float = 0.3
    seed: int = 0
    per_class: int = 60
    k: int = 50
    epochs: int = 60
    sources: tuple[str, ...] = ("templates", "wordnet")
    stamps_root: Path = TUXPAINT_STAMPS
    progress: bool | None = None


@dataclass
class DemoResult:
    """What the demo measured: accuracy per (modality, stage, centres), retrieval, and where things are."""

    accuracy: dict[str, dict[str, float]] = field(default_factory=dict)  # "image/before" -> {"templates": ..}
    counts: dict[str, int] = field(default_factory=dict)  # "image/test" -> n
    retrieval: dict[str, dict[str, float]] = field(default_factory=dict)  # "audio->image/after" -> {"R@1": ..}
    classes: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    parameters: dict[str, int] = field(default_factory=dict)
    space_dir: Path | None = None
    report: Path | None = None
    notes: list[str] = field(default_factory=list)
    embeddings: dict[str, Any] = field(default_factory=dict)  # "image/after" -> (vectors, labels)

    def table(self) -> list[tuple[str, str, str, float, int]]:
        """(modality, stage, centres, top-1, test samples) rows."""
        out = []
        for key, by_method in self.accuracy.items():
            modality, stage = key.split("/")
            for method, value in by_method.items():
                out.append((modality, stage, method, value, self.counts.get(f"{modality}/test", 0)))
        return out


def run_demo(config: DemoConfig, *, say: Callable[[str], None] = print, registry: Any = None) -> DemoResult:
    """Run the demo end to end into ``config.out`` (reusing what an earlier run left there)."""
    from unibind.knowledge.centres import CentreSettings, localize
    from unibind.knowledge.records import ClassRef
    from unibind.knowledge.store import KnowledgeBase
    from unibind.knowledge.textcache import TextEmbedder
    from unibind.space import Space
    from unibind.training.features import FeatureCache, FrozenEncoder, extract_features
    from unibind.training.pipeline import TrainConfig, train_space
    from unibind.training.trainer import TrainSettings

    if registry is None:
        from unibind.plugins import get_registry

        registry = get_registry()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    result = DemoResult()

    rows = demo_rows(tuxpaint_stamps(config.stamps_root))
    train_rows, test_rows = split_rows(rows, config.test_fraction, config.seed)
    write_manifest(out / "train.jsonl", train_rows)
    write_manifest(out / "test.jsonl", test_rows)
    classes = sorted({r["label"] for r in rows})
    result.classes = classes
    for m in MODALITIES:
        result.counts[f"{m}/train"] = sum(r["modality"] == m for r in train_rows)
        result.counts[f"{m}/test"] = sum(r["modality"] == m for r in test_rows)
    say(f"data: {len(classes)} classes; " + ", ".join(
        f"{m} {result.counts[m + '/train']} train / {result.counts[m + '/test']} test" for m in MODALITIES)
        + " (real Tux Paint photos and sounds)")

    # 1. knowledge base and centres
    from unibind.knowledge.builder import build_knowledge_base

    installed = {spec.name for spec in registry.by_kind("description_source")}
    sources = [s for s in config.sources if s in installed]
    missing = sorted(set(config.sources) - set(sources))
    if missing:
        result.notes.append(f"description sources not installed: {', '.join(missing)}")
    result.sources = sources
    refs = [ClassRef(name=c) for c in classes]
    with KnowledgeBase(out / "kb.sqlite") as kb:
        report = build_knowledge_base(kb, refs, [(s, None) for s in sources], per_class=config.per_class,
                                      registry=registry, progress=config.progress)
        for s in report.sources:
            say(f"knowledge base: {s.source}: {s.kept} kept, {sum(s.rejected.values())} rejected, "
                f"{s.skipped}/{s.jobs} classes reused")

    # 2-3. features and training (resumes from the space's checkpoint)
    cache_root = out / "features"
    train_config = TrainConfig(
        data=out / "train.jsonl", out=out / "space", modalities=list(MODALITIES), kb=out / "kb.sqlite",
        centres_k=config.k, cache_dir=cache_root, val_fraction=0.2, progress=config.progress,
        train=TrainSettings(epochs=config.epochs, seed=config.seed))
    trained = train_space(train_config, registry=registry)
    result.parameters = trained.parameters
    result.space_dir = trained.space_dir
    say(f"trained adapters: {trained.parameters['trainable']:,} trainable parameters, "
        f"{trained.parameters['frozen']:,} frozen; best epoch {trained.fit.best_epoch}")

    # 4. held-out evaluation, before and after training, from cached features
    before = Space(registry=registry)
    after = Space.from_dir(trained.space_dir, registry=registry)
    embedder = TextEmbedder.from_space(before)
    test_features: dict[str, tuple[torch.Tensor, list[str], list[str]]] = {}
    for m in MODALITIES:
        frozen = FrozenEncoder.from_registry(m, registry=registry)
        paths = [r["path"] for r in test_rows if r["modality"] == m]
        feats = extract_features(paths, frozen, FeatureCache(cache_root, frozen.identity), progress=config.progress)
        label_of = {r["path"]: r["label"] for r in test_rows}
        instance_of = {r["path"]: r["instance"] for r in test_rows}
        test_features[m] = (feats.vectors, [label_of[s] for s in feats.sources],
                            [instance_of[s] for s in feats.sources])
    with KnowledgeBase(out / "kb.sqlite", create=False) as kb:
        centre_sets = {
            (m, method): localize(refs, embedder, CentreSettings(method=method, k=config.k, modality=m,
                                                                 on_empty="prompt"), kb=kb)
            for m in MODALITIES for method in ("name", "templates", "ecl")
        }
    adapted: dict[str, torch.Tensor] = {}
    for stage, space in (("before", before), ("after", after)):
        for m in MODALITIES:
            vectors, labels, _ = test_features[m]
            with torch.inference_mode():
                embedded = F.normalize(space.pipeline(m).adapter(vectors).float(), dim=-1)
            adapted[f"{m}/{stage}"] = embedded
            result.embeddings[f"{m}/{stage}"] = (embedded, labels)
            truth = torch.tensor([classes.index(label) for label in labels])
            result.accuracy[f"{m}/{stage}"] = {
                method: float((centre_sets[(m, method)].score(embedded).argmax(1) == truth).float().mean())
                for method in ("name", "templates", "ecl")
            }
        result.retrieval[f"audio->image/{stage}"] = paired_recall(
            adapted[f"audio/{stage}"], test_features["audio"][2], adapted[f"image/{stage}"],
            test_features["image"][2])
    with atomic_open(out / "results.json") as f:
        json.dump({"accuracy": result.accuracy, "counts": result.counts, "retrieval": result.retrieval,
                   "classes": classes, "sources": sources, "parameters": result.parameters,
                   "notes": result.notes}, f, indent=2)
    return result


def paired_recall(queries: torch.Tensor, query_ids: Sequence[str], gallery: torch.Tensor,
                  gallery_ids: Sequence[str], ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """Recall@k of retrieving the gallery item of the same instance (queries without a pair are skipped)."""
    where = {g: i for i, g in enumerate(gallery_ids)}
    keep = [i for i, q in enumerate(query_ids) if q in where]
    if not keep:
        return {}
    sims = F.normalize(queries[keep], dim=-1) @ F.normalize(gallery, dim=-1).T
    target = torch.tensor([where[query_ids[i]] for i in keep])
    rank = (sims > sims.gather(1, target[:, None])).sum(1)
    return {f"R@{k}": float((rank < k).float().mean()) for k in ks} | {"queries": float(len(keep))}


# -- the quick check: zero-shot photos, no training ------------------------------------------

#: (file under the stamps folder, its true label) -- real photo cut-outs.
TUXPAINT_PHOTOS = (
    ("animals/mammals/dogs/dog.png", "dog"),
    ("animals/mammals/cats/tiger.png", "tiger"),
    ("animals/birds/blackbird.png", "bird"),
    ("food/fruit/apple_red.png", "apple"),
    ("food/fruit/pineapple.png", "pineapple"),
    ("vehicles/garbagetruck.png", "truck"),
)

#: scikit-learn's sample photos and their true labels.
SKLEARN_PHOTOS = (("china.jpg", "building"), ("flower.jpg", "flower"))

QUICK_LABELS = ("flower", "building", "dog", "tiger", "bird", "apple", "pineapple", "truck", "car", "guitar")


def quick_photos() -> list[tuple[Path, str]]:
    """Real photos with their true labels, from what is installed here (``unibind demo --quick``)."""
    from unibind.datasets import MissingDataError, sklearn_photos

    photos: list[tuple[Path, str]] = []
    try:
        found = sklearn_photos()
        photos += [(found[name], label) for name, label in SKLEARN_PHOTOS if name in found]
    except MissingDataError:
        pass
    photos += [(TUXPAINT_STAMPS / rel, label) for rel, label in TUXPAINT_PHOTOS
               if (TUXPAINT_STAMPS / rel).is_file()]
    return photos
