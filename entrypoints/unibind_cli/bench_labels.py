"""``unibind bench labels``: zero-shot against 1,000 and 10,000 labels, first and second run."""

from __future__ import annotations

from pathlib import Path

import click

from unibind_cli.devices import device_options


def _counts(ctx: click.Context, param: click.Parameter, value: str) -> list[int]:
    try:
        counts = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 2:
        raise click.BadParameter("give comma-separated label counts of at least 2, e.g. 1000,10000")
    return counts


@click.command("labels")
@click.option("--labels", "counts", default="1000,10000", show_default=True, callback=_counts,
              help="Label counts: up to 1,000 are ImageNet-1K class names, more are synthetic.")
@click.option("--modality", default="image", show_default=True,
              help="Which prompt templates (image: CLIP's 80 per class) and which encoder.")
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The file to classify (default: a Tux Paint stamp photo).")
@device_options
def labels_bench(counts: list[int], modality: str, file: Path | None) -> None:
    """Classify one file against large label sets from an empty text cache, then again from the cache."""
    from unibind.errors import UniBindError
    from unibind.labelbench import cpu_note, default_file, label_figures

    try:
        file = file or default_file(modality)
        rows = label_figures(counts, file, modality)
    except UniBindError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"label texts for zero-shot {modality} classification ({cpu_note()}); then {file.name} "
               "classified from the warm cache")
    click.echo(f"{'labels':>8} {'texts':>9} {'first run':>11} {'second run':>11} {'speed-up':>9} "
               f"{'texts/s':>8} {'classify':>9} {'cache':>8} {'peak RSS':>9}  labels are")
    for r in rows:
        click.echo(f"{r['labels']:>8} {r['texts']:>9} {r['first_s']:>10.1f}s {r['second_s']:>10.2f}s "
                   f"{r['speedup']:>8.0f}x {r['texts_per_s']:>8.0f} {r['classify_s']:>8.1f}s {r['cache_mb']:>6.1f}MB "
                   f"{r['peak_rss_mb']:>7.0f}MB  {r['kind']}{'' if r['same_centres'] else ' (centres differ!)'}")
