"""``unibind calibrate fit-multi-label``: per-class temperatures and thresholds for ``classify --multi-label``."""

from __future__ import annotations

from pathlib import Path

import click

from unibind_cli.devices import device_options
from unibind_cli.validation import LabelList


@click.command("fit-multi-label")
@click.argument("data", type=click.Path(exists=True, path_type=Path))
@click.option("--space", "space_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Space directory: saved as SPACE/multilabel/<modality>.safetensors.")
@click.option("--new", "new_space", is_flag=True,
              help="SPACE is a new folder for the default space (no space.json).")
@click.option("--modality", required=True, help="Modality of the files in DATA.")
@click.option("--labels", type=LabelList(), help="Comma-separated class names (default: all classes in DATA, "
              "sorted).")
@click.option("--centres", type=click.Path(dir_okay=False, path_type=Path),
              help="Knowledge-base centres file (default: the space's own for this modality, else prompt templates).")
@click.option("--reduce", type=click.Choice(["max", "mean", "softmax"]),
              help="Scoring over a class's centres (default: as saved with them); classify uses the same.")
@click.option("--mode", type=click.Choice(["per-class", "shared"]), default="per-class", show_default=True,
              help="A temperature and bias per class (shrunk towards a shared pair), or one pair for all.")
@click.option("--shrinkage", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Pull of each class's pair towards the shared one, in held-out items (0: none).")
@device_options
def fit_multi_label(data: Path, space_dir: Path, new_space: bool, modality: str, labels: list[str] | None,
                    centres: Path | None, reduce: str | None, mode: str, shrinkage: float) -> None:
    """Fit multi-label calibration on held-out files: DATA is a JSONL manifest ({"path": ..., "labels": [...]}
    per line) or class folders where a file holding several classes is in each of their folders."""
    from unibind.calibration.multilabel import PerClassTemperatureSettings
    from unibind.calibration.multilabel_store import MultiLabelCalibrator, save_multilabel
    from unibind.calibration.scoring import score_files
    from unibind.errors import UniBindError
    from unibind.multilabel import read_multilabel_data

    from unibind_cli.calibrate import open_space_to_write

    space = open_space_to_write(space_dir, new_space)
    try:
        suffixes = space.registry.get("modality", modality).suffixes
        found = read_multilabel_data(data, suffixes, labels)
        scored = score_files(space, found.paths, found.labels, modality, reduce=reduce,
                             centres=centres or getattr(space, "centres", None))
        row = {str(p): i for i, p in enumerate(found.paths)}
        targets = found.targets[[row[s] for s in scored.embedded.sources]]
        if len(targets) < 2:
            raise click.ClickException(f"{data}: fewer than two {modality} files could be read")
        settings = PerClassTemperatureSettings(mode=mode, shrinkage=shrinkage)  # type: ignore[arg-type]
        fitted = MultiLabelCalibrator.fit(scored.sims, targets, scored.labels, modality, settings=settings,
                                          reduce=reduce, logit_scale=space.logit_scale,
                                          vectors=scored.embedded.vectors)
    except UniBindError as exc:
        raise click.ClickException(str(exc)) from exc
    path = save_multilabel(space_dir, fitted)
    for failure in [*found.failures, *scored.embedded.failures]:
        click.echo(f"skipped {failure.source}: {failure.reason}", err=True)
    before, after = fitted.record.metrics["before"], fitted.record.metrics["after"]
    click.echo(f"multi-label calibration fitted on {len(targets)} {modality} files ({len(scored.labels)} classes, "
               f"{int(targets.sum())} class memberships) -> {path}")
    for line in fitted.describe():
        click.echo(f"  {line}")
    click.echo(f"mAP {after['mAP']:.3f}; micro F1 {before['micro_f1']:.3f} -> {after['micro_f1']:.3f}, "
               f"ECE {before['ece']:.3f} -> {after['ece']:.3f} (uncalibrated sigmoid of "
               f"{space.logit_scale:g} x cosine at 0.5 -> fitted; on the fitting data, so optimistic)")
    if fitted.domain is not None:
        click.echo(fitted.domain.describe())
