"""``unibind``: the command line. Thin: every command calls the library.

Only click, pydantic and pluggy load at start-up; torch and the models load
inside the commands that need them, so ``unibind list-plugins`` stays fast.
"""

from __future__ import annotations

import click

from unibind import __version__
from unibind_cli.bench import bench
from unibind_cli.calibrate import calibrate
from unibind_cli.demo import demo
from unibind_cli.embed import classify, embed
from unibind_cli.evaluate import evaluate
from unibind_cli.kb import bench_centres, kb
from unibind_cli.plugins import list_plugins
from unibind_cli.scaffold import plugin
from unibind_cli.train import train


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="unibind")
def cli() -> None:
    """UniBind: one language-anchored embedding space for every modality."""


for command in (list_plugins, embed, classify, demo, bench, kb, train, evaluate, calibrate, plugin):
    cli.add_command(command)
bench.add_command(bench_centres)


def main() -> None:
    from unibind.plugins import get_plugin_manager

    get_plugin_manager().add_commands(cli)
    cli()
