"""``unibind bench``: benchmarks that print figures side by side."""

from __future__ import annotations

import click


@click.group()
def bench() -> None:
    """Benchmarks (figures, not pass/fail)."""


@bench.command("startup")
@click.option("--repeat", default=7, show_default=True, help="Runs of each command; the median is shown.")
def startup(repeat: int) -> None:
    """Wall time of `unibind list-plugins` next to `python -c pass`, as a ratio."""
    from unibind.bench import startup_figures

    figures = startup_figures(repeat)
    click.echo(f"python -c pass          : {figures['baseline_s'] * 1000:7.1f} ms (median of {repeat})")
    click.echo(f"unibind list-plugins    : {figures['list_plugins_s'] * 1000:7.1f} ms (median of {repeat})")
    click.echo(f"ratio                   : {figures['ratio']:7.2f}x")
    click.echo(f"plugins loaded          : {figures['plugins']}")
    click.echo(f"heavy modules imported  : {', '.join(figures['heavy']) or 'none'}")
