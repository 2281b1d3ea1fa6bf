"""Command summaries in ``--help`` are whole sentences, wrapped, never cut at ~45-60 characters.

Click derives a command's one-line summary from its docstring and truncates it
to fit the terminal (``calibrate     Calibrated confidence: fit calibrators on
held-out data,...``). Giving each command its full first sentence as
``short_help`` lets click's definition list wrap it instead.
"""

from __future__ import annotations

import click


def whole_summaries(command: click.Command) -> None:
    """Set every (sub)command's short help to its whole first sentence, recursively."""
    if command.short_help is None and command.help:
        command.short_help = command.get_short_help_str(limit=10_000)
    for sub in getattr(command, "commands", {}).values():
        whole_summaries(sub)
