"""``unibind list-plugins``, and the start-up notes about plugins every command shares.

Plain text, one block per plugin: readable at 80 columns and cheap to start
(no rich, no table layout). ``--json`` gives everything.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from typing import Any

import click

ENV_QUIET = "UNIBIND_QUIET"


def _quiet_from_env() -> bool:
    return os.environ.get(ENV_QUIET, "").strip().lower() in {"1", "true", "yes", "on"}


def _remember_quiet(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    ctx.meta["unibind.quiet"] = value or _quiet_from_env()
    return value


#: The global ``--quiet`` of ``unibind``: no note about broken plugins (also ``UNIBIND_QUIET=1``).
quiet_option = click.option("--quiet", "-q", is_flag=True, expose_value=False, is_eager=True,
                            callback=_remember_quiet,
                            help=f"Do not note broken plugins on stderr (or set {ENV_QUIET}=1).")


def note_broken_plugins() -> None:
    """One line on stderr naming broken plugins, before any command but list-plugins."""
    ctx = click.get_current_context()
    if ctx.invoked_subcommand is None:
        return
    manager = _manager_or_exit()  # a plugin-settings mistake ends here, quiet or not
    if ctx.meta.get("unibind.quiet", _quiet_from_env()) or ctx.invoked_subcommand == "list-plugins":
        return
    broken = [p.name for p in manager.broken()]
    if broken:
        click.echo(f"Warning: broken plugin{'s' if len(broken) > 1 else ''} skipped: {', '.join(broken)} "
                   f"(see `unibind list-plugins`; {ENV_QUIET}=1 hides this)", err=True)


def add_plugin_commands(cli: click.Group) -> None:
    """Load the plugins and let them add commands; a plugin-settings mistake is one Error line."""
    _manager_or_exit().add_commands(cli)


def _manager_or_exit():
    from unibind.errors import PluginError
    from unibind.plugins import get_plugin_manager

    try:
        return get_plugin_manager()
    except PluginError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)


@click.command("list-plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (every field) instead of text.")
@click.option("--all", "show_all", is_flag=True, help="Include the core's built-in components.")
@click.option("--traceback", "show_traceback", is_flag=True,
              help="Show the full traceback of each plugin that failed to load (for its author).")
def list_plugins(as_json: bool, show_all: bool, show_traceback: bool) -> None:
    """List installed plugins, what each registers, conflicts, and any that failed to load."""
    manager = _manager_or_exit()
    infos = [p for p in manager.plugins.values() if show_all or not p.builtin]
    conflicts = manager.conflicts()
    if as_json:
        listed = [{**p.as_dict(), "conflicts": [c.as_dict() for c in conflicts if p.name in c.plugins],
                   **({"traceback": p.traceback} if show_traceback else {})}
                  for p in infos]
        click.echo(json.dumps(listed, indent=2))
        return
    blocks = [_block(info.as_dict()) + (_traceback_lines(info.traceback) if show_traceback else "")
              for info in infos]
    if conflicts:
        blocks.append(_conflict_block(conflicts))
    quiet_choices = [p for p in manager.registry.preferences()
                     if not any((c.kind, c.name) == (p.kind, p.name) for c in conflicts)]
    if quiet_choices:
        blocks.append("\n".join(_wrap("preference:", f"{p.kind} {p.name!r} = {p.plugin!r} (by {p.source}; "
                                       "no other plugin claims it now)") for p in quiet_choices))
    if manager.unused_preferences:
        blocks.append("\n".join(_wrap("unused preference:", p) for p in manager.unused_preferences))
    click.echo("\n\n".join(blocks) if blocks else "no plugins installed (core built-ins are shown with --all)")


def _wrap(label: str, text: str, width: int = 80) -> str:
    return textwrap.fill(text, width=width, initial_indent=f"  {label} ", subsequent_indent="      ",
                         break_on_hyphens=False, break_long_words=False)


def _traceback_lines(text: str | None) -> str:
    return "" if not text else "\n  traceback:\n" + textwrap.indent(text.rstrip(), "    ")


def _block(data: dict[str, Any]) -> str:
    version = f" {data['version']}" if data["version"] else ""
    dist = f" ({data['distribution']}{version})" if data["distribution"] else ""
    status = "ok" if data["status"] == "ok" else "BROKEN"
    lines = [f"{data['name']}{dist}: {status}"]
    if data["error"]:
        lines.append(_wrap("error:", data["error"]))
    for warning in data["warnings"]:
        lines.append(_wrap("warning:", warning))
    for kind, names in data["registers"].items():
        lines.append(_wrap(f"{kind}s:".replace("ys:", "ies:").replace("_", " "), ", ".join(names)))
    if data["modalities"] and data["modalities"] != sorted(data["registers"].get("modality", [])):
        lines.append(_wrap("serves:", ", ".join(data["modalities"])))
    if data["status"] == "ok" and not data["registers"] and not data["warnings"]:
        lines.append("  (registers nothing)")
    return "\n".join(lines)


def _conflict_block(conflicts) -> str:
    from unibind.plugins import config_file
    from unibind.registry import ENV_PREFER

    lines = ["conflicts (a bare name claimed by several plugins; 'plugin:name' always works):"]
    for c in conflicts:
        lines.append(textwrap.fill(c.describe(), width=80, initial_indent="  ", subsequent_indent="    ",
                                   break_on_hyphens=False, break_long_words=False))
    if any(c.chosen is None for c in conflicts):
        lines.append(textwrap.fill(f"settle with {ENV_PREFER}=\"kind:name=plugin,...\" or under [prefer] in "
                                   f"{config_file()}", width=80, initial_indent="  ", subsequent_indent="    ",
                                   break_on_hyphens=False, break_long_words=False))
    return "\n".join(lines)
