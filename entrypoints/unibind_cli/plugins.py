"""``unibind list-plugins``."""

from __future__ import annotations

import json

import click


@click.command("list-plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--all", "show_all", is_flag=True, help="Include the core's built-in components.")
def list_plugins(as_json: bool, show_all: bool) -> None:
    """List installed plugins, what each registers, and any that failed to load."""
    from unibind.plugins import get_plugin_manager

    infos = [p for p in get_plugin_manager().plugins.values() if show_all or not p.builtin]
    if as_json:
        click.echo(json.dumps([p.as_dict() for p in infos], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="UniBind plugins")
    for column in ("plugin", "distribution", "version", "registers", "modalities", "status"):
        table.add_column(column)
    for info in infos:
        data = info.as_dict()
        registers = "\n".join(f"{kind}: {', '.join(names)}" for kind, names in data["registers"].items())
        status = "[green]ok[/]" if info.status == "ok" else f"[red]broken[/]: {info.error}"
        table.add_row(info.name, info.distribution or "-", info.version or "-", registers or "-",
                      ", ".join(data["modalities"]) or "-", status)
    Console().print(table)
    if not infos:
        click.echo("no plugins installed (core built-ins are shown with --all)")
