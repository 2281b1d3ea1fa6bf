"""``unibind bench``: benchmarks that print figures side by side."""

from __future__ import annotations

import click

from unibind_cli.devices import device_options
from unibind_cli.validation import POSITIVE


@click.group()
def bench() -> None:
    """Benchmarks (figures, not pass/fail)."""


@bench.command("startup")
@click.option("--repeat", default=7, show_default=True, type=POSITIVE, help="Runs of each command; the median is shown.")
def startup(repeat: int) -> None:
    """Wall time of `unibind list-plugins` next to `python -c pass`, as a ratio."""
    from unibind.bench import startup_figures

    figures = startup_figures(repeat)
    click.echo(f"python -c pass          : {figures['baseline_s'] * 1000:7.1f} ms (median of {repeat})")
    click.echo(f"unibind list-plugins    : {figures['list_plugins_s'] * 1000:7.1f} ms (median of {repeat})")
    click.echo(f"ratio                   : {figures['ratio']:7.2f}x")
    click.echo(f"plugins loaded          : {figures['plugins']}")
    click.echo(f"heavy modules imported  : {', '.join(figures['heavy']) or 'none'}")


@bench.command("embed")
@click.argument("modality")
@click.argument("files", nargs=-1, required=True)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=0),
              help="Decoding worker processes.")
@click.option("--batch-size", default=16, show_default=True, type=POSITIVE)
@click.option("--encoder", help="Encoder name (default: the modality's default).")
@device_options
def embed_bench(modality: str, files: tuple[str, ...], workers: int, batch_size: int,
                encoder: str | None) -> None:
    """End-to-end embedding throughput next to the bare encoder forward pass, as a ratio."""
    from unibind.bench import embed_throughput
    from unibind_cli.embed import _expand, _space

    space = _space(encoder, None, modality)
    figures = embed_throughput(space, modality, _expand(files, space, modality), workers=workers,
                               batch_size=batch_size)
    click.echo(f"{modality} / {figures['encoder']}: {figures['files']} files, batch {batch_size}, "
               f"{workers} workers")
    click.echo(f"  bare forward (pre-decoded) : {figures['forward_files_per_s']:8.1f} files/s")
    click.echo(f"  end to end (decode+encode) : {figures['end_to_end_files_per_s']:8.1f} files/s")
    click.echo(f"  ratio                      : {figures['ratio']:8.2f}")
    if figures["failures"]:
        click.echo(f"  skipped {figures['failures']} file(s) that could not be read", err=True)


from unibind_cli.bench_labels import labels_bench  # noqa: E402 - its own module

bench.add_command(labels_bench)
