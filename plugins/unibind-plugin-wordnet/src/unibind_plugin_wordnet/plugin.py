"""Hook implementations of the WordNet plugin: registration only, nothing heavy imported."""

from __future__ import annotations

from unibind import hookimpl
from unibind.specs import DescriptionSourceSpec

_PKG = "unibind_plugin_wordnet"


@hookimpl
def unibind_description_sources(register):
    register(DescriptionSourceSpec(
        name="wordnet", factory=f"{_PKG}.source:WordNetSource", settings=f"{_PKG}.settings:WordNetSettings",
        produces=("class_descriptions",),
        summary="WordNet 3.0 (Debian wordnet-base): gloss, synonyms, hypernym chain, parts, wholes, narrower "
                "kinds and examples as sentences; names and ImageNet ids resolved to noun synsets",
    ))


@hookimpl
def unibind_commands(cli):
    from unibind_plugin_wordnet.cli import wordnet

    cli.add_command(wordnet)
