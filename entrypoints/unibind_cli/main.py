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
from unibind_cli.helptext import whole_summaries
from unibind_cli.errors import UserErrorGroup, run_or_exit
from unibind_cli.evaluate import evaluate
from unibind_cli.index import bench_index, index, search
from unibind_cli.kb import bench_centres, kb
from unibind_cli.multilabel import fit_multi_label
from unibind_cli.plugins import add_plugin_commands, list_plugins, note_broken_plugins, quiet_option
from unibind_cli.space import space
from unibind_cli.scaffold import plugin
from unibind_cli.train import train


@click.group(cls=UserErrorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="unibind")
@quiet_option
def cli() -> None:
    """UniBind: one language-anchored embedding space for every modality."""
    note_broken_plugins()


for command in (list_plugins, embed, classify, demo, bench, kb, train, evaluate, calibrate, index, search, space,
                plugin):
    cli.add_command(command)
bench.add_command(bench_centres)
bench.add_command(bench_index)
calibrate.add_command(fit_multi_label)
whole_summaries(cli)


#: OpenMP threads that wait for work sleep instead of spinning (a user's own setting wins). With
#: spinning (libgomp's default), a one-file command on a busy 2-core machine spent most of its first
#: forward in threads burning CPU while they waited for cores (issue 16).
OPENMP_WAIT_POLICY = "PASSIVE"


def main() -> None:
    import os

    # read by the OpenMP runtime when torch loads it, so it must be set before anything imports torch
    os.environ.setdefault("OMP_WAIT_POLICY", OPENMP_WAIT_POLICY)
    from unibind.secrets import install_log_redaction

    install_log_redaction()
    run_or_exit(lambda: add_plugin_commands(cli))  # UNIBIND_STRICT=1: a broken plugin, one line
    whole_summaries(cli)
    cli()
