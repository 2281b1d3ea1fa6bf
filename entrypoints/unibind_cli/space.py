"""``unibind space inspect``: what a trained space holds and whether this installation can use it."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def space() -> None:
    """Trained spaces: inspect what one holds and whether it works here."""


@space.command("inspect", short_help="What a space holds and whether this installation can use it.")
@click.argument("space_dir", metavar="SPACE", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the inspection as JSON.")
@click.option("--no-check", is_flag=True, help="Only read the files; do not load the encoders to compare "
              "identities (fast).")
def inspect(space_dir: Path, as_json: bool, no_check: bool) -> None:
    """Encoders and their identities, adapters, centres, calibrators, the knowledge base it came from,
    and whether every recorded identity matches the models installed here (exit code 3 when not)."""
    from unibind.errors import UniBindError
    from unibind.inspect_space import format_inspection, inspect_space

    try:
        found = inspect_space(space_dir, check=not no_check)
    except UniBindError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(found.model_dump_json(indent=2) if as_json else format_inspection(found))
    if found.usable is False:
        raise SystemExit(3)
