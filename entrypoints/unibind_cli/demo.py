"""``unibind demo``: the main job on the embedded default (see :mod:`unibind.demo`)."""

from __future__ import annotations

from pathlib import Path

import click

from unibind_cli.devices import device_options
from unibind_cli.validation import POSITIVE, LabelList


@click.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("unibind-demo"),
              show_default=True, help="Work directory: knowledge base, feature cache, space, report. "
              "A second run reuses what is there.")
@click.option("--epochs", type=POSITIVE, default=60, show_default=True, help="Adapter training epochs (at most).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--init", type=click.Choice(["xavier", "orthogonal", "zeros", "text-bridge"]), default="text-bridge",
              show_default=True, help="Adapter initialisation (text-bridge: the ImageNet bridge's linear part).")
@click.option("--anchor-weight", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Pull the adapters back toward the bridge while training (unibind train: 10; the demo's "
              "figures were measured with 0).")
@click.option("--quick", is_flag=True, help="Only zero-shot classify a few real photos (no training).")
@click.option("--labels", type=LabelList(), default=None,
              help="--quick: comma-separated labels (default: the quick check's ten).")
@device_options
def demo(out: Path, epochs: int, seed: int, init: str, anchor_weight: float | None, quick: bool,
         labels: list[str] | None) -> None:
    """The main job: knowledge base, centres, features, adapters, held-out evaluation, report."""
    if quick:
        _quick(labels)
        return
    from rich.console import Console
    from rich.table import Table

    from unibind.demo import DemoConfig, run_demo

    console = Console()
    result = run_demo(DemoConfig(out=out, epochs=epochs, seed=seed, init=init, anchor_weight=anchor_weight), say=console.print)
    table = Table(title="held-out top-1 accuracy (real Tux Paint stamps)")
    for column in ("modality", "stage", "centres", "top-1", "test samples"):
        table.add_column(column, justify="right" if column in ("top-1", "test samples") else "left")
    for modality, stage, method, value, n in result.table():
        table.add_row(modality, stage, method, f"{value:.3f}", str(n))
    console.print(table)
    for key, recall in result.retrieval.items():
        if recall:
            console.print(f"retrieval {key}: " + ", ".join(
                f"{k} {v:.2f}" for k, v in recall.items() if k.startswith("R@")) + f" ({int(recall['queries'])} queries)")
    for key, by in result.unseen.items():
        modality, space = key.split("/", 1)
        console.print(f"unseen classes ({', '.join(DemoConfig.unseen)}), {modality} {space}: "
                      + ", ".join(f"{k} {v:.3f}" for k, v in by.items() if k != "items") + f" ({int(by['items'])} items"
                      + (", too few to judge)" if by["items"] < 20 else ")"))
    for note in result.notes:
        console.print(f"note: {note}")
    if result.report is not None:
        console.print(f"report: {result.report}")
    if result.space_dir is not None:
        from shlex import quote

        console.print(f"next: classify your own files with the trained space:\n  unibind classify --space "
                      f"{quote(str(result.space_dir))} FILE\n(and see what the space holds with "
                      f"`unibind space inspect {quote(str(result.space_dir))}`)", highlight=False)


def _quick(labels: list[str] | None) -> None:
    from unibind.demo import QUICK_LABELS, quick_photos
    from unibind.space import Space
    from unibind_cli.embed import _print_predictions, _report_failures

    photos = quick_photos()
    if not photos:
        raise click.ClickException("no demo photos found (install scikit-learn / tuxpaint-stamps-default)")
    label_list = labels or list(QUICK_LABELS)
    click.echo(f"zero-shot: {len(photos)} real photos against {len(label_list)} labels "
               "(image encoder + ImageNet bridge, prompt-template centres, uncalibrated)")
    predictions, failures = Space().classify([p for p, _ in photos], label_list, top_k=3)
    truth = {str(p): t for p, t in photos}
    _print_predictions(predictions, truth)
    right = sum(truth[p.source] == p.label for p in predictions)
    click.echo(f"top-1 accuracy: {right}/{len(predictions)}")
    _report_failures(failures)
