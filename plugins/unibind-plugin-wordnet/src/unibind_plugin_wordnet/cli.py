"""``unibind wordnet ...``: see how class names resolve and what the source writes about them.

Only click at import time; nltk loads inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

_SOURCE_OPTIONS = (
    click.option("--wordnet-dir", type=click.Path(file_okay=False, path_type=Path),
                 help="WordNet database directory (default: /usr/share/wordnet)."),
    click.option("--rule", type=click.Choice(["imagenet", "physical", "frequent"]),
                 help="Ambiguity rule (default: imagenet)."),
    click.option("--sense", "senses", multiple=True, metavar="NAME=SYNSET",
                 help="Fix a class's sense, e.g. mouse=mouse.n.01; repeatable."),
)


def _with_source_options(command: Any) -> Any:
    for option in reversed(_SOURCE_OPTIONS):
        command = option(command)
    return command


def _source(wordnet_dir: Path | None, rule: str | None, senses: tuple[str, ...]) -> Any:
    from unibind.errors import UniBindError
    from unibind_plugin_wordnet.settings import WordNetSettings
    from unibind_plugin_wordnet.source import WordNetSource

    values: dict[str, Any] = {}
    if wordnet_dir is not None:
        values["wordnet_dir"] = wordnet_dir
    if rule is not None:
        values["rule"] = rule
    fixed = {}
    for pair in senses:
        name, eq, key = pair.partition("=")
        if not eq or not name.strip() or not key.strip():
            raise click.BadParameter(f"expected NAME=SYNSET, got {pair!r}", param_hint="--sense")
        fixed[name.strip()] = key.strip()
    values["senses"] = fixed
    try:
        return WordNetSource(WordNetSettings(**values))
    except UniBindError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def wordnet() -> None:
    """WordNet descriptions: resolve class names to synsets, preview sentences."""


@wordnet.command()
@click.argument("classes", nargs=-1, required=True)
@_with_source_options
@click.option("--json", "as_json", is_flag=True, help="One JSON record per class.")
def resolve(classes: tuple[str, ...], wordnet_dir: Path | None, rule: str | None, senses: tuple[str, ...],
            as_json: bool) -> None:
    """Which noun synset each of CLASSES stands for, the other senses and the rule that chose."""
    source = _source(wordnet_dir, rule, senses)
    unresolved = 0
    for name in classes:
        found = source.resolve(name)
        unresolved += found.synset is None
        if as_json:
            click.echo(json.dumps({**found.model_dump(), "ambiguous": found.ambiguous}))
        else:
            click.echo(found.summary())
    if unresolved:
        raise SystemExit(1)


@wordnet.command()
@click.argument("class_name")
@_with_source_options
@click.option("--limit", default=0, help="Show at most this many (0: all).")
def describe(class_name: str, wordnet_dir: Path | None, rule: str | None, senses: tuple[str, ...],
             limit: int) -> None:
    """The sentences the source writes about CLASS_NAME, in stream order, with their relation."""
    from unibind.knowledge.records import ClassRef, DescriptionDraft

    source = _source(wordnet_dir, rule, senses)
    click.echo(source.resolve(class_name).summary())
    shown = 0
    for item in source.describe(ClassRef.parse(class_name), limit or 1):
        if not isinstance(item, DescriptionDraft):
            click.echo(f"  rejected ({item.reason}): {item.detail}")
            raise SystemExit(1)
        click.echo(f"  [{item.meta['relation']}] {item.text}")
        shown += 1
        if limit and shown >= limit:
            break
