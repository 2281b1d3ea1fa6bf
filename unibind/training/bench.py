"""Training benchmarks on real data (Tux Paint photo stamps, GPL-2 data read at run time).

``python -m unibind.training.bench [--what cache,temperature] [--limit N]`` prints:

* epochs/s of adapter training from the feature cache next to epochs that
  re-encode every file (what training without the cache costs), as a ratio;
* validation accuracy of image adapters with the paper's tau = 1 against a
  learned tau (and the symmetric loss), with trainable vs frozen parameters.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import torch


def tuxpaint_manifest(path: str | Path, *, with_sound: bool = False, min_per_class: int = 6,
                      limit: int | None = None) -> Path:
    """A JSONL manifest of Tux Paint photos (and their sounds): label = two levels of category.

    Each stamp is one instance; its one-line description is the positive.
    """
    from unibind.datasets import tuxpaint_stamps

    stamps = [s for s in tuxpaint_stamps(with_sound=with_sound) if s.description
              and not s.name.endswith("_mirror")]
    label = {s.name + s.category: "/".join(s.category.split("/")[:2]) for s in stamps}
    counts = Counter(label.values())
    stamps = [s for s in stamps if counts[label[s.name + s.category]] >= min_per_class][:limit]
    lines = []
    for s in stamps:
        common = {"label": label[s.name + s.category], "description": s.description,
                  "instance": f"{s.category}/{s.name}"}
        lines.append({"path": str(s.image), **common})
        if with_sound and s.sound is not None:
            lines.append({"path": str(s.sound), **common})
    path = Path(path)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def bench_cache(manifest: Path, cache_dir: Path, *, epochs: int = 5, modality: str = "image") -> dict[str, Any]:
    """Epochs/s from the cache vs re-encoding each epoch (encoder pass + the same training epoch)."""
    from unibind.plugins import get_registry
    from unibind.training.data import read_dataset
    from unibind.features import FeatureCache, FrozenEncoder, extract_features
    from unibind.training.pipeline import TrainConfig, train_space
    from unibind.training.trainer import TrainSettings

    registry = get_registry()
    items, _ = read_dataset(manifest, registry, [modality])
    frozen = FrozenEncoder.from_registry(modality, registry=registry)
    started = time.perf_counter()
    extract_features([i.path for i in items], frozen, FeatureCache(cache_dir, frozen.cache_identity), progress=False)
    first = time.perf_counter() - started
    started = time.perf_counter()
    extract_features([i.path for i in items], frozen, None, progress=False)
    encode = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as out:
        config = TrainConfig(data=manifest, out=Path(out), modalities=[modality], cache_dir=cache_dir,
                             train=TrainSettings(epochs=epochs, patience=epochs, batch_size=32), progress=False)
        result = train_space(config)
    cached_eps = result.fit.epochs_per_second
    reencode_eps = 1.0 / (encode + 1.0 / cached_eps)
    return {"samples": len(items), "first_extraction_s": first, "encode_pass_s": encode,
            "epochs_per_s_cached": cached_eps, "epochs_per_s_reencoding": reencode_eps,
            "ratio": cached_eps / reencode_eps, "parameters": result.parameters}


def bench_temperature(manifest: Path, cache_dir: Path, *, epochs: int = 40, seeds: int = 3,
                      modality: str = "image") -> dict[str, Any]:
    """Best val accuracy (against class prompt-template centres) for tau variants, mean over seeds."""
    from unibind.training.pipeline import TrainConfig, train_space
    from unibind.training.trainer import TrainSettings

    variants = {
        "tau=1 fixed (paper)": {"temperature": 1.0},
        "tau learned from 0.07": {"temperature": 0.07, "learn_temperature": True},
        "tau=0.07 fixed": {"temperature": 0.07},
        "tau learned, symmetric": {"temperature": 0.07, "learn_temperature": True, "symmetric": True},
    }
    out: dict[str, Any] = {}
    for name, extra in variants.items():
        accuracies, losses, taus = [], [], []
        for seed in range(seeds):
            with tempfile.TemporaryDirectory() as space:
                settings = TrainSettings(epochs=epochs, batch_size=32, lr=1e-3, patience=8, seed=seed, **extra)
                result = train_space(TrainConfig(data=manifest, out=Path(space), modalities=[modality],
                                                 cache_dir=cache_dir, train=settings, progress=False))
            best = next(r for r in result.fit.history if r.epoch == result.fit.best_epoch)
            accuracies.append(best.val_accuracy.get(modality, float("nan")))
            losses.append(best.val_loss)
            taus.append(result.fit.temperature)
        out[name] = {"val_accuracy": sum(accuracies) / seeds, "per_seed": accuracies,
                     "tau": sum(taus) / seeds, "samples": result.samples[modality]}
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--what", default="cache,temperature")
    parser.add_argument("--limit", type=int, default=None, help="At most this many stamps.")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from unibind.features import default_cache_root

    cache = args.cache_dir or default_cache_root()
    with tempfile.TemporaryDirectory() as tmp:
        manifest = tuxpaint_manifest(Path(tmp) / "tuxpaint.jsonl", limit=args.limit)
        if "cache" in args.what:
            r = bench_cache(manifest, cache)
            print(f"feature cache, {r['samples']} real Tux Paint photos, EfficientNet-Lite0 + linear adapter:")
            print(f"  first extraction        : {r['first_extraction_s']:.1f} s")
            print(f"  epochs/s from the cache : {r['epochs_per_s_cached']:.2f}")
            print(f"  epochs/s re-encoding    : {r['epochs_per_s_reencoding']:.3f}  "
                  f"(one encoder pass {r['encode_pass_s']:.1f} s)")
            print(f"  ratio                   : {r['ratio']:.0f}x")
            p = r["parameters"]
            print(f"  parameters              : {p['trainable']:,} trainable, {p['frozen']:,} frozen "
                  f"({100 * p['trainable'] / (p['trainable'] + p['frozen']):.1f}% trained)")
        if "temperature" in args.what:
            results = bench_temperature(manifest, cache, epochs=args.epochs, seeds=args.seeds)
            first = next(iter(results.values()))
            n = first["samples"]
            print(f"temperature, image adapters on real Tux Paint photos ({n['train']} train / {n['val']} val), "
                  "best val accuracy "
                  f"against prompt-template class centres, mean of {args.seeds} seeds:")
            for name, r in results.items():
                print(f"  {name:24s}: {r['val_accuracy']:.3f}  (final tau {r['tau']:.3f}; "
                      f"{', '.join(f'{a:.2f}' for a in r['per_seed'])})")


if __name__ == "__main__":
    main()
