"""``unibind plugin new``: a plugin skeleton that passes its own tests right after generation."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def plugin() -> None:
    """Tools for plugin authors."""


@plugin.command("new")
@click.argument("name")
@click.option("--modality", required=True, help="The modality the plugin reads (e.g. imu).")
@click.option("--dir", "directory", default=".", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Where to write unibind-plugin-NAME/.")
def new(name: str, modality: str, directory: Path) -> None:
    """Write unibind-plugin-NAME: pyproject with the entry point, hooks, loader, encoder and tests."""
    from unibind.scaffold import ScaffoldError, write_plugin

    try:
        root = write_plugin(name, modality, directory)
    except (ScaffoldError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {root}/ (modality {modality}, files *.{modality}.csv)")
    click.echo(f"next: pip install -e '{root}[test]' && pytest {root}")
