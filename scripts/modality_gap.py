"""The modality gap before and after each remedy, on held-out real data (Tux Paint photos and sounds).

Real data: Debian's ``tuxpaint-stamps-default`` photo cut-outs and sound effects
of the demo's classes that have sounds (animals, mostly), split by stamp (a
stamp's photo and sound fall on the same side) per seed. For each seed it
trains image and audio adapters on the training stamps (each sample against
its own description, as ``unibind demo`` does) and measures on the held-out
stamps, through the evaluation's own path (``stage_from_space``):

- ``baseline``: the trained space as it is;
- ``centred``: the same adapters with per-modality centring (C3's collapse,
  means from the training stamps: ``train --centre-modalities``);
- ``balance w=W``: trained again with the balance term (``--balance-weight W``);
- ``before training``: the default space (ImageNet bridge), for reference.

Printed per variant (mean over seeds): top-1 accuracy per modality (template
mean centres), text->image and text->audio R@5 (class), image<->audio R@5
(class), the audio share of text queries' top 5 against the audio share of
the gallery, and the gap of each modality's mean to the text mean.
Run it niced; features come from the shared feature cache::

    nice -n 10 .venv/bin/python scripts/modality_gap.py --out /tmp/gap --seeds 0,1
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

MIN_SOUNDS_PER_CLASS = 3


def tuxpaint_rows(seed: int, test_fraction: float, min_sounds: int = MIN_SOUNDS_PER_CLASS
                  ) -> tuple[list[dict], list[dict], list[str]]:
    """Train and test manifest rows of the demo classes with at least ``min_sounds`` sounds (0: all 17)."""
    from unibind.datasets import tuxpaint_selection
    from unibind.demo import DEMO_CLASSES, demo_rows, split_rows

    rows = demo_rows(tuxpaint_selection(DEMO_CLASSES))
    sounds: dict[str, int] = {}
    for r in rows:
        sounds[r["label"]] = sounds.get(r["label"], 0) + (r["modality"] == "audio")
    classes = sorted(c for c, n in sounds.items() if n >= min_sounds)
    rows = [r for r in rows if r["label"] in classes]
    train, test = split_rows(rows, test_fraction, seed)
    return train, test, classes


def eval_sets(rows: list[dict], classes: list[str]) -> list:
    from unibind.evaluation.data import EvalSet
    from unibind.evaluation.features import files_fingerprint
    from unibind.knowledge.records import ClassRef

    import numpy as np

    sets = []
    for modality in ("image", "audio"):
        chosen = [r for r in rows if r["modality"] == modality]
        paths = [Path(r["path"]) for r in chosen]
        sets.append(EvalSet(f"Tux Paint {modality} (held out)", modality, paths,
                            np.array([classes.index(r["label"]) for r in chosen]), [ClassRef(name=c) for c in classes],
                            files_fingerprint(paths), paths=True, pair_keys=[r["instance"] for r in chosen]))
    return sets


def measure(space, sets, title: str) -> dict:
    """One variant's figures on the held-out sets (template-mean centres: no knowledge base needed)."""
    from unibind.evaluation.from_space import stage_from_space
    from unibind.evaluation.stage import evaluate_stage

    stage, skipped, _notes = stage_from_space(space, sets, title)
    result = evaluate_stage(stage, recall_ks=(1, 5), balance_ks=(5,))
    method = "template mean"
    acc = {r.modality: r.accuracy for r in result.accuracy if r.method == method}
    recall = {f"{r.query}->{r.gallery}": r.recall for r in result.retrieval
              if r.relevance == "class" and r.method in ("", method)}   # "": modality <-> modality rows
    balance = next(b.shares for b in result.balance if b.method == method and b.k == 5)
    gap = {g.modality: g.gap_to_text for g in result.gap.rows}
    return {"accuracy": acc, "recall": recall, "audio_share_top5": balance.get("audio", 0.0),
            "audio_share_gallery": result.gallery_shares.get("audio", 0.0), "gap_to_text": gap,
            "gap_floor": {g.modality: g.floor for g in result.gap.rows},
            "alignment": {g.modality: g.alignment for g in result.gap.rows},
            "uniformity": {g.modality: g.uniformity for g in result.gap.rows},
            "gap_image_audio": result.gap.pairs.get("image-audio"),
            "items": {s.modality: len(s.labels) for s in stage.sets}, "skipped": len(skipped)}


def run(out: Path, seeds: list[int], weights: list[float], epochs: int, test_fraction: float,
        min_sounds: int = MIN_SOUNDS_PER_CLASS) -> dict:
    from unibind.plugins import get_registry
    from unibind.space import Space
    from unibind.training.pipeline import TrainConfig, train_space
    from unibind.training.trainer import TrainSettings
    from unibind.demo import write_manifest

    registry = get_registry()
    results: dict[str, list[dict]] = {}
    counts = {}
    for seed in seeds:
        train_rows, test_rows, classes = tuxpaint_rows(seed, test_fraction, min_sounds)
        counts[seed] = {f"{m}/{part}": sum(r["modality"] == m for r in rows)
                        for part, rows in (("train", train_rows), ("test", test_rows)) for m in ("image", "audio")}
        print(f"seed {seed}: {len(classes)} classes ({', '.join(classes)}); {counts[seed]}", file=sys.stderr)
        manifest = write_manifest(out / f"train-{seed}.jsonl", train_rows)
        sets = eval_sets(test_rows, classes)
        results.setdefault("before training", []).append(measure(Space(registry=registry), sets, "before"))
        for weight in [0.0, *weights]:
            name = "baseline" if weight == 0 else f"balance w={weight:g}"
            config = TrainConfig(data=manifest, out=out / f"space-{seed}-w{weight:g}", modalities=["image", "audio"],
                                 val_fraction=0.2, min_val_per_class=1, centre_modalities=True, progress=False,
                                 train=TrainSettings(epochs=epochs, seed=seed, balance_weight=weight))
            space_dir = train_space(config, registry=registry).space_dir
            plain = Space.from_dir(space_dir, registry=registry)
            plain.modality_means = {}
            results.setdefault(name, []).append(measure(plain, sets, name))
            centred = Space.from_dir(space_dir, registry=registry)
            results.setdefault(f"{name} + centred" if weight else "centred", []).append(
                measure(centred, sets, f"{name} centred"))
            if weight == 0:  # the text mean over the class centres only (the text side queries use)
                centred = Space.from_dir(space_dir, registry=registry)
                centred.modality_means["text"] = class_centre_text_mean(space_dir)
                results.setdefault("centred, text mean of class centres", []).append(
                    measure(centred, sets, "centred (class text mean)"))
            print(f"seed {seed}: {name} done", file=sys.stderr)
    return {"seeds": seeds, "counts": counts, "epochs": epochs, "classes": classes, "results": results}


def class_centre_text_mean(space_dir: Path):
    """Mean unit vector of every saved class centre of a trained space (each modality's set, or an older
    space's one set): the text mean of what class queries are made of."""
    import torch

    from unibind.centring import unit_mean
    from unibind.knowledge.centres import CentreSet
    from unibind.spacedir import centre_files, read_record

    sets = [CentreSet.load(space_dir / relative) for relative in centre_files(read_record(space_dir)).values()]
    if not sets:
        raise SystemExit(f"Error: {space_dir} has no saved class centres")
    return unit_mean(torch.cat([s.centres[s.mask] for s in sets]))


def table(summary: dict) -> str:
    def mean(values):
        return statistics.fmean(values) if values else float("nan")

    def recall(runs, direction, k):
        return mean([r["recall"][direction][k] for r in runs])

    head = ("variant", "acc image", "acc audio", "t->img R@1", "t->aud R@1", "t->aud R@5", "img->aud R@5",
            "aud->img R@5",
            "audio top5 / gallery", "gap img", "gap aud", "gap img-aud")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, runs in summary["results"].items():
        def pick(key, sub=None):
            return mean([r[key][sub] if sub else r[key] for r in runs])
        cells = [name, f"{100 * pick('accuracy', 'image'):.1f}", f"{100 * pick('accuracy', 'audio'):.1f}",
                 f"{100 * recall(runs, 'text->image', 1):.1f}", f"{100 * recall(runs, 'text->audio', 1):.1f}",
                 f"{100 * recall(runs, 'text->audio', 5):.1f}", f"{100 * recall(runs, 'image->audio', 5):.1f}",
                 f"{100 * recall(runs, 'audio->image', 5):.1f}",
                 f"{100 * pick('audio_share_top5'):.1f} / {100 * pick('audio_share_gallery'):.1f}",
                 f"{pick('gap_to_text', 'image'):.3f}", f"{pick('gap_to_text', 'audio'):.3f}",
                 f"{pick('gap_image_audio'):.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="Where manifests, spaces and gap.json go.")
    parser.add_argument("--seeds", default="0,1", help="Comma-separated seeds (split and training).")
    parser.add_argument("--balance-weights", default="0.1,1", help="Comma-separated weights of the balance term.")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--test-fraction", type=float, default=0.3)
    parser.add_argument("--min-sounds", type=int, default=MIN_SOUNDS_PER_CLASS,
                        help="Keep the demo classes with at least this many sounds (0: all 17, as `unibind demo`).")
    args = parser.parse_args(argv)
    from unibind.atomic import atomic_open

    args.out.mkdir(parents=True, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    weights = [float(w) for w in args.balance_weights.split(",") if w.strip()]
    summary = run(args.out, seeds, weights, args.epochs, args.test_fraction, args.min_sounds)
    with atomic_open(args.out / "gap.json") as f:
        f.write(json.dumps(summary, indent=2))
    print(f"Real data: Tux Paint photos and sounds of {len(summary['classes'])} classes, held-out stamps; "
          f"mean over seeds {seeds}; "
          f"counts per seed {json.dumps(summary['counts'])}")
    print(table(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
