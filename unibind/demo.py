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
   after (the trained adapters), with the trained space's saved
   per-modality ECL centres (what ``eval report`` and ``classify --space``
   score with) and the template-mean and class-name baselines;
   sound-to-image retrieval; an HTML report.

The split is by stamp, so a stamp's photo and sound are both train or both
test. Classes are Tux Paint's own categories, merged where a category is
too small to hold a test sample.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from unibind.atomic import atomic_open
from unibind.datasets import TUXPAINT_STAMPS, Stamp, tuxpaint_selection

#: A class scorer (embeddings -> [N, C] scores), or modality -> scorer (unibind.evaluation.stage.AnyScorer).
AnyScorer = Callable[[torch.Tensor], torch.Tensor] | Mapping[str, Callable[[torch.Tensor], torch.Tensor]]

#: Demo class -> the Tux Paint stamp folders it holds (the longest matching prefix wins: cattle before mammal).
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

#: Classes a second space never trains on, to measure zero-shot accuracy on classes unseen in training.
UNSEEN_CLASSES = ("fish", "tree", "coin", "musical instrument")

STAGE_TITLES = {"before": "before training (ImageNet bridge, no adapters trained)",
                "after": "after training (contrastive adapters)"}


def demo_rows(stamps: Sequence[tuple[Stamp, str]]) -> list[dict[str, Any]]:
    """Manifest rows (path, modality, label, description, instance): a photo and, where there is one, a sound."""
    rows = []
    for stamp, label in stamps:
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
    classes: tuple[str, ...] | None = None  # a subset of DEMO_CLASSES (tests use a few)
    unseen: tuple[str, ...] = UNSEEN_CLASSES  # left out of a second training: zero-shot after training
    init: str = "text-bridge"  # adapter initialisation: the ImageNet bridge's linear part (keeps unseen classes)
    # Without the anchor, as `unibind train` now (README, "Which start"); with 10 an older run gave image after
    # 0.568 (was 0.653) and unseen 0.214 (was 0.286) on 14 items. Calibrated stacking: train's default.
    anchor_weight: float | None = 0.0  # pull back toward the bridge (None: unibind train's default)
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
    uncalibrated: dict[str, str] = field(default_factory=dict)  # modality -> why no temperature was fitted
    embeddings: dict[str, Any] = field(default_factory=dict)  # "image/after" -> (vectors, labels)
    encoded: dict[str, int] = field(default_factory=dict)  # samples the frozen encoders ran on (0: all cached)
    kb_reused: int = 0  # knowledge-base jobs an earlier run had finished
    calibration: dict[str, dict[str, float]] = field(default_factory=dict)  # modality -> ECE before/after, T
    unseen: dict[str, dict[str, float]] = field(default_factory=dict)  # "image/trained without them" -> top-1
    # "image/after" -> per held-out item: source, label, ECL prediction and its cosine (as classify --space prints)
    predictions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

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
    from unibind.knowledge.centres import CentreSettings, canonical_prompt
    from unibind.knowledge.records import ClassRef
    from unibind.knowledge.store import KnowledgeBase
    from unibind.knowledge.textcache import TextEmbedder
    from unibind.encoders.pool import EncoderPool
    from unibind.space import Space
    from unibind.features import FeatureCache, FrozenEncoder, extract_features
    from unibind.training.pipeline import TrainConfig, train_space
    from unibind.training.trainer import TrainSettings

    if registry is None:
        from unibind.plugins import get_registry

        registry = get_registry()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    result = DemoResult()
    pool = EncoderPool()  # every stage (training, before, after, the space without the unseen) shares these

    rows = demo_rows(tuxpaint_selection(DEMO_CLASSES, root=config.stamps_root))  # mirrored copies dropped
    if config.classes is not None:
        unknown = sorted(set(config.classes) - set(DEMO_CLASSES))
        if unknown:
            raise ValueError(f"not demo classes: {', '.join(unknown)} (choose from {', '.join(DEMO_CLASSES)})")
        rows = [r for r in rows if r["label"] in config.classes]
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
        result.kb_reused = sum(s.skipped for s in report.sources)
        for s in report.sources:
            say(f"knowledge base: {s.source}: {s.kept} kept, {sum(s.rejected.values())} rejected, "
                f"{s.skipped}/{s.jobs} classes reused")

    # 2-3. features and training (resumes from the space's checkpoint)
    cache_root = out / "features"
    train_config = TrainConfig(
        data=out / "train.jsonl", out=out / "space", modalities=list(MODALITIES), kb=out / "kb.sqlite",
        centres_k=config.k, cache_dir=cache_root, val_fraction=0.2, progress=config.progress,
        min_val_per_class=1,  # every demo class holds out >= 1 item: the early stopping its figures were measured with
        adapter_settings={m: {"init": config.init} for m in MODALITIES},
        train=TrainSettings(epochs=config.epochs, seed=config.seed,
                            **({} if config.anchor_weight is None else {"anchor_weight": config.anchor_weight})))
    trained = train_space(train_config, registry=registry, pool=pool)
    result.parameters = trained.parameters
    result.encoded = dict(trained.encoded)
    result.space_dir = trained.space_dir
    say(f"trained adapters: {trained.parameters['trainable']:,} trainable parameters, "
        f"{trained.parameters['frozen']:,} frozen; best epoch {trained.fit.best_epoch}")

    # 4. held-out evaluation, before and after training, from cached features; the report
    from unibind.evaluation.report import Report, stage_slug, write_report
    from unibind.evaluation.stage import EmbeddedSet, Stage, draw_stage, evaluate_stage, score

    before = Space(registry=registry, pool=pool)
    after = Space.from_dir(trained.space_dir, registry=registry, pool=pool)
    embedder = TextEmbedder.from_space(before)
    row_of = {r["path"]: r for r in test_rows}
    test_features = {}
    for m in MODALITIES:
        frozen = FrozenEncoder.from_space(before, m)  # the before space's encoder: built once, not again here
        paths = [r["path"] for r in test_rows if r["modality"] == m]
        test_features[m] = extract_features(paths, frozen, FeatureCache(cache_root, frozen.cache_identity),
                                            progress=config.progress)
        result.encoded[m] = result.encoded.get(m, 0) + test_features[m].encoded
    scorers = demo_scorers(after, refs)
    result.notes.append("ECL rows score with the trained space's saved centres, one set per modality "
                        f"({trained.space_dir / 'centres'}), as `unibind eval report` and `unibind classify --space` "
                        "do, before and after training alike")
    prompts = embedder([canonical_prompt(ref, CentreSettings()) for ref in refs])
    report = Report(title="UniBind demo: real Tux Paint photos and sounds", command="unibind demo",
                    notes=[f"{len(classes)} classes: " + ", ".join(classes),
                           f"description sources: {', '.join(sources)}", *result.notes])
    for stage_name, space in (("before", before), ("after", after)):
        sets = []
        for m in MODALITIES:
            feats = test_features[m]
            vectors = space.embed_features(m, feats.vectors)
            rows_m = [row_of[src] for src in feats.sources]
            sets.append(EmbeddedSet(m, vectors, [r["label"] for r in rows_m], [Path(src).name for src in feats.sources],
                                    items=list(feats.sources), pair_ids=[r["instance"] for r in rows_m]))
            result.embeddings[f"{m}/{stage_name}"] = (vectors, [r["label"] for r in rows_m])
            if stage_name == "after":
                top = score(scorers["ECL"], vectors, m).max(1)
                result.predictions[f"{m}/after"] = [
                    {"source": src, "label": r["label"], "predicted": classes[i], "similarity": v}
                    for src, r, i, v in zip(feats.sources, rows_m, top.indices.tolist(), top.values.tolist())]
        title = STAGE_TITLES[stage_name]
        stage = Stage(title, sets, classes, scorers, prompts)
        evaluated = evaluate_stage(stage)
        evaluated.pictures = draw_stage(stage, out, stage_slug(title))
        report.stages.append(evaluated)
        for row in evaluated.accuracy:
            result.accuracy.setdefault(f"{row.modality}/{stage_name}", {})[row.method] = row.accuracy
        for row in evaluated.retrieval:
            if row.relevance == "pair":
                result.retrieval[f"{row.query}->{row.gallery}/{stage_name}"] = {
                    **{f"R@{k}": v for k, v in row.recall.items()}, "queries": float(row.queries)}
    unseen = [c for c in config.unseen if c in classes]
    if unseen and len(unseen) < len(classes):
        seen_rows = [r for r in train_rows if r["label"] not in unseen]
        write_manifest(out / "train-seen.jsonl", seen_rows)
        seen_dir = train_space(train_config.model_copy(update={
            "data": out / "train-seen.jsonl", "out": out / "space-seen"}), registry=registry, pool=pool).space_dir
        seen_space = Space.from_dir(seen_dir, registry=registry, pool=pool)
        seen_space.kb = out / "kb.sqlite"   # its unseen classes are built from the same KB (classify --kb)
        differ = same_centres(seen_space, after, [c for c in classes if c not in unseen])
        result.notes += differ
        report.notes += differ
        result.unseen = unseen_accuracy(
            {"before": before, "after": after, "trained without them": seen_space},
            test_features, row_of, unseen, classes, scorers)
    report.figures += calibrate_demo(result, scorers["ECL"], after.logit_scale, classes, trained.space_dir, out,
                                     seed=config.seed)
    for m, c in result.calibration.items():
        say(f"calibration ({m}, held-out half): ECE {c['ece_before']:.3f} -> {c['ece_after']:.3f} "
            f"with temperature {c['temperature']:.3f} (fitted on {c['fitted_on']}, measured on {c['measured_on']})")
    for m, why in result.uncalibrated.items():
        say(f"calibration ({m}): skipped, {why}")
        report.notes.append(f"{m} not calibrated: {why}")
        result.notes.append(f"{m} not calibrated: {why}")
    _list_calibrators(trained.space_dir)
    summarise(report, result, config, scorers["ECL"], classes, unseen)
    result.report = write_report(report, out)
    with atomic_open(out / "results.json") as f:
        json.dump({"accuracy": result.accuracy, "counts": result.counts, "retrieval": result.retrieval,
                   "classes": classes, "sources": sources, "parameters": result.parameters,
                   "calibration": result.calibration, "unseen": result.unseen, "notes": result.notes,
                   "predictions": result.predictions}, f, indent=2)
    return result


def demo_scorers(space: Any, refs: Sequence[Any]) -> dict[str, AnyScorer]:
    """Title -> modality -> scorer: ECL from ``space``'s saved centre sets, and the two baselines.

    One source of truth: the trained space's own per-modality centres score
    every ECL figure (both stages, the unseen classes, the calibrators), and
    the baselines are built as ``unibind eval report`` builds them, so the
    after stage equals what ``eval report --space`` and ``classify --space``
    give on the same files. The text side is the same before and after
    training, so the before stage scores with the same centres and only the
    adapters differ.
    """
    from unibind.evaluation.from_space import class_scorers

    labels = [ref.name for ref in refs]
    scorers: dict[str, AnyScorer] = {"ECL": {m: space.centre_set(None, labels, m).score for m in MODALITIES}}
    # template mean and class name from each modality's own templates and prompt, as eval report builds them
    per_modality = {m: class_scorers(space, refs, modality=m) for m in MODALITIES}
    for title in per_modality[MODALITIES[0]]:
        scorers[title] = {m: per_modality[m][title] for m in MODALITIES}
    return scorers


def same_centres(space: Any, reference: Any, labels: Sequence[str]) -> list[str]:
    """Notes where ``space``'s saved centres differ from ``reference``'s for ``labels`` (none: they agree).

    The space trained without the unseen classes saved centres only for the
    classes it saw; it is scored with the full space's sets, which hold the
    same centres for those classes (same knowledge base, settings and text
    encoder): this checks it instead of assuming it.
    """
    notes = []
    for m in MODALITIES:
        own, full = space.centre_set(None, labels, m), reference.centre_set(None, labels, m)
        if not (torch.equal(own.centres, full.centres) and torch.equal(own.mask, full.mask)):
            notes.append(f"{m}: the space trained without the unseen classes saved other centres for the seen "
                         "classes than the full space; both are scored with the full space's")
    return notes


def _list_calibrators(space_dir: Path) -> None:
    """Name the fitted calibrators in ``space.json`` too, as ``unibind calibrate fit`` does."""
    from unibind.calibration.store import calibrator_entries
    from unibind.spacedir import read_record, write_record

    record = read_record(space_dir)
    record.calibrators = calibrator_entries(space_dir)
    write_record(space_dir, record)


def summarise(report: Any, result: DemoResult, config: DemoConfig, scorer: AnyScorer,
              classes: Sequence[str], unseen: Sequence[str]) -> None:
    """Fill the report's first screen: the result per modality, what did not work, unseen classes, per class."""
    from unibind.version import __version__
    from unibind.evaluation.stage import score
    from unibind.evaluation.summary import CalibrationRow, UnseenRow, findings, per_class, summary_rows
    from unibind.spacedir import read_record

    split = {m: {k.split("/")[1]: v for k, v in result.accuracy.items() if k.startswith(m + "/")} for m in MODALITIES}
    report.summary = summary_rows({m: by.get("before", {}) for m, by in split.items()},
                                  {m: by.get("after", {}) for m, by in split.items()},
                                  {m: result.counts.get(f"{m}/test", 0) for m in MODALITIES}, len(classes))
    report.calibration = [CalibrationRow(modality=m, ece_raw=c["ece_before"], ece_calibrated=c["ece_after"],
                                         temperature=c["temperature"], fitted_on=c["fitted_on"],
                                         measured_on=c["measured_on"]) for m, c in result.calibration.items()]
    names = {"before": "bridge only", "after": "trained with them", "trained without them": "trained without them"}
    by_modality: dict[str, UnseenRow] = {}
    for key, by in result.unseen.items():
        modality, space = key.split("/", 1)
        items = int(by["items"])
        row = by_modality.setdefault(modality, UnseenRow(modality=modality, method="ECL", items=items, right={}))
        row.right[names.get(space, space)] = round(by["ECL"] * items)
    report.unseen, report.unseen_classes = list(by_modality.values()), list(unseen)
    report.findings = findings(report.summary, report.unseen, report.calibration, method="ECL")
    if result.calibration:
        n = ", ".join(f"{m} {result.counts.get(m + '/test', 0)}" for m in result.calibration)
        halves = ", ".join(f"{m} {c['fitted_on']} / {c['measured_on']}" for m, c in result.calibration.items())
        report.ece_note = (
            "ECE appears twice for each modality. The reliability diagrams in the 'after training' section show "
            f"the uncalibrated ECL probabilities on every held-out item ({n}). The summary and the Calibration "
            "section split those items in two halves (by class, seeded): the temperature is fitted on one half "
            f"and ECE, raw and calibrated, is measured on the other ({halves} items); its raw ECE differs from "
            "the diagram's only in which items are counted.")
    report.per_class = {}
    for m in MODALITIES:
        if f"{m}/after" not in result.embeddings:
            continue
        vectors, truth = result.embeddings[f"{m}/after"]
        predicted = [classes[i] for i in score(scorer, vectors, m).argmax(1).tolist()]
        report.per_class[m] = per_class(truth, predicted, classes)
    report.per_class_title = ("After training, ECL centres, held-out items (scikit-learn's precision, recall, F1; "
                              "support: test items of the class).")
    record = read_record(result.space_dir) if result.space_dir is not None else None
    if record is not None:
        report.settings = {
            "text encoder": record.text_encoder,
            **{f"{m} encoder / adapter": f"{r.encoder} / {r.adapter} ({r.in_dim} -> {r.out_dim})"
               for m, r in record.modalities.items()},
            "epochs": f"{len(record.metrics.get('history', []))} of at most {config.epochs} "
                      f"(best: {record.metrics.get('best_epoch')}; early stopping on the validation loss)",
            "adapter init": config.init,
            "anchor weight": str(record.metrics.get("train", {}).get("anchor_weight", "-")), "seed": str(config.seed),
            "classes": f"{len(classes)} (split by stamp, {int(100 * config.test_fraction)} % held out)",
            "unibind": __version__}


def unseen_accuracy(spaces: dict[str, Any], features: dict[str, Any], row_of: dict[str, dict[str, Any]],
                    unseen: Sequence[str], classes: Sequence[str], scorers: dict[str, AnyScorer]
                    ) -> dict[str, dict[str, float]]:
    """Top-1 on the test items of ``unseen`` classes (among all classes) in each space: the zero-shot setting.

    A space trained without those classes shows whether the adapters learned
    the language space or only the training classes. A trained space's ECL
    scores as ``classify --space S --labels <all classes>`` does: its saved
    centres, the classes it never saw built now by its recipe, and its
    calibrated-stacking offset on the classes it trained on.
    """
    from unibind.evaluation.stage import score

    out: dict[str, dict[str, float]] = {}
    for m, feats in features.items():
        keep = [i for i, src in enumerate(feats.sources) if row_of[src]["label"] in unseen]
        if not keep:
            continue
        truth = torch.tensor([classes.index(row_of[feats.sources[i]]["label"]) for i in keep])
        for name, space in spaces.items():
            vectors = space.embed_features(m, feats.vectors[keep])
            own = space.centre_set(None, list(classes), m) if getattr(space, "centres", None) else None
            mine = {**scorers, "ECL": own.score} if own is not None else scorers
            out[f"{m}/{name}"] = {title: float((score(scorer, vectors, m).argmax(1) == truth).float().mean())
                                  for title, scorer in mine.items()} | {"items": float(len(keep))}
    return out


def calibrate_demo(result: DemoResult, scorer: AnyScorer, logit_scale: float,
                   classes: Sequence[str], space_dir: Path, out: Path, *, seed: int = 0) -> list[tuple[str, str]]:
    """Temperature scaling of the trained space, fitted on half of the held-out data, measured on the other.

    The fitted calibrators are saved in the space directory, where
    ``unibind classify --space`` applies them; returns the reliability
    diagrams as (title, file) for the report.
    """
    from unibind.calibration.base import CalibrationFitError
    from unibind.calibration.diagrams import reliability_diagrams
    from unibind.calibration.domain import CalibrationDomain
    from unibind.calibration.metrics import ece
    from unibind.calibration.report import split_halves
    from unibind.calibration.store import CalibratorRecord, FittedCalibrator, save_calibrator
    from unibind.calibration.temperature import TemperatureScaler
    from unibind.evaluation.stage import score

    figures = []
    for m in MODALITIES:
        vectors, labels = result.embeddings[f"{m}/after"]
        targets = torch.tensor([classes.index(label) for label in labels])
        fit, held = (torch.from_numpy(i) for i in split_halves(targets.tolist(), seed))
        if len(fit) < 2 or len(held) < 2:
            continue
        logits = logit_scale * score(scorer, vectors, m)  # the sims classify --space scales and calibrates
        try:
            scaler = TemperatureScaler().fit(logits[fit], targets[fit])
        except CalibrationFitError as exc:   # skipped with the reason, not saved degenerate
            result.uncalibrated[m] = str(exc)
            continue
        before, after = torch.softmax(logits[held], dim=-1), scaler(logits[held])
        numbers = {"ece_before": ece(before, targets[held]), "ece_after": ece(after, targets[held]),
                   "temperature": scaler.temperature, "fitted_on": len(fit), "measured_on": len(held)}
        result.calibration[m] = numbers
        record = CalibratorRecord(name="temperature", modality=m, fitted_on=len(fit), logit_scale=logit_scale,
                                  labels=list(classes), metrics={"before": {"ece": numbers["ece_before"]},
                                                                 "after": {"ece": numbers["ece_after"]},
                                                                 "held_out": len(held)})
        save_calibrator(space_dir, FittedCalibrator(scaler, record, CalibrationDomain.fit(vectors[fit])))
        path = reliability_diagrams({"softmax of 100 x cos (uncalibrated)": before,
                                     f"temperature scaling (T = {scaler.temperature:.2f})": after},
                                    targets[held], out / f"reliability-{m}.png")
        figures.append((f"Reliability, {m} after training (held-out half, {len(held)} samples)", path.name))
    return figures


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
