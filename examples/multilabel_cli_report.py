"""`unibind classify --multi-label` end to end on composites of real Tux Paint photos, from the command line.

The same composites as ``examples/multilabel_report.py`` (two or three real Tux Paint cut-outs of
different classes alpha-composited on one canvas, *not* real scenes; stamps of each class halved so
no stamp is in both the fitting and the test composites). Runs the commands a user runs:

    unibind calibrate fit-multi-label val.jsonl --space DIR --new --modality image --labels ...
    unibind classify --space DIR --multi-label --json --labels ... test/*.png

and scores the JSON output against the composites' labels (scikit-learn micro/macro F1, and how
often the answer is empty). Default space (EfficientNet-Lite0 + ImageNet bridge, prompt-template centres).

    .venv/bin/python examples/multilabel_cli_report.py --out DIR [--count 200]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from multilabel_report import CLASSES, split_parts  # noqa: E402

from unibind.composites import make_composites  # noqa: E402


def manifest(made, path: Path) -> Path:
    path.write_text("".join(json.dumps({"path": str(c.path), "labels": list(c.labels)}) + "\n" for c in made))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--count", type=int, default=200, help="Composites per split.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    unibind = str(Path(sys.executable).with_name("unibind"))
    labels = sorted(CLASSES)
    val_parts, test_parts = split_parts(args.seed)
    val, _ = make_composites(val_parts, args.out / "val", args.count, seed=args.seed, prefix="val")
    test, _ = make_composites(test_parts, args.out / "test", args.count, seed=args.seed + 1, prefix="test")
    space = args.out / "space"
    fit = [unibind, "calibrate", "fit-multi-label", str(manifest(val, args.out / "val.jsonl")), "--space",
           str(space), "--modality", "image", "--labels", ",".join(labels)]
    if not (space / "multilabel").is_dir():
        fit.insert(6, "--new")
    print("$", " ".join(fit[:4] + ["..."]), flush=True)
    subprocess.run(fit, check=True)
    run = subprocess.run([unibind, "classify", "--space", str(space), "--multi-label", "--json", "--labels",
                          ",".join(labels), *[str(c.path) for c in test]], check=True, capture_output=True, text=True)
    predicted = {p["source"]: {d["label"] for d in p["labels"]} for p in map(json.loads, run.stdout.splitlines())}
    from sklearn.metrics import f1_score

    truth = np.array([[label in c.labels for label in labels] for c in test], dtype=int)
    guess = np.array([[label in predicted[str(c.path)] for label in labels] for c in test], dtype=int)
    figures = {"test composites": len(test), "labels per composite": float(truth.sum(1).mean()),
               "micro_f1": float(f1_score(truth, guess, average="micro", zero_division=0)),
               "macro_f1": float(f1_score(truth, guess, average="macro", zero_division=0)),
               "labels returned per composite": float(guess.sum(1).mean()),
               "no class above threshold": int((guess.sum(1) == 0).sum())}
    (args.out / "multilabel-cli.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
