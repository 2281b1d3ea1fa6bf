"""Completion-style few-shot prompts for base (not instruction-tuned) models.

A base model continues text; it does not follow instructions. So the prompt
is a document of numbered lists, one per example class, ending in the asked
class's header and ``1.``: the natural continuation is that class's list.
"""

from __future__ import annotations

from collections.abc import Sequence

from unibind_plugin_llm_transformers.settings import FewShotExample

_VOWEL_SOUND = tuple("aeiou")


def with_article(name: str) -> str:
    """``"dog"`` -> ``"a dog"``, ``"Ankle boot"`` -> ``"an ankle boot"``; plural-looking names stay bare.

    A capitalised word ("Trouser") is lowered unless it looks like an acronym
    or a proper compound ("T-shirt", "TV").
    """
    if len(name) > 1 and name[0].isupper() and name[1].islower():
        name = name[0].lower() + name[1:]
    article = "an" if name[:1].lower() in _VOWEL_SOUND else "a"
    return f"{article} {name}"


def render_list(header: str, name: str, items: Sequence[str]) -> str:
    lines = [header.format(name=with_article(name))]
    lines += [f"{i}. {text}" for i, text in enumerate(items, 1)]
    return "\n".join(lines)


def build_prompt(header: str, examples: Sequence[FewShotExample], name: str) -> str:
    """The examples' lists, a blank line between each, then the asked class's header and ``1.``."""
    blocks = [render_list(header, ex.name, ex.descriptions) for ex in examples]
    blocks.append(render_list(header, name, []) + "\n1.")
    return "\n\n".join(blocks)


def read_reply(reply: str, items: int, eos: bool = False) -> tuple[list[str], bool]:
    """The first ``items`` lines of a continuation, and whether the list ended inside the reply.

    The continuation starts after ``1.``; a blank line (the next class's
    list would follow) ends it. The returned lines still carry their
    numbering, which :func:`unibind.knowledge.filters.clean_candidate` strips. ``eos``: the
    model ended the text itself (then nothing was cut off).
    """
    body, blank, _ = reply.partition("\n\n")
    lines = [line for line in body.split("\n") if line.strip()]
    # more lines than wanted, or a blank line: every line we keep ended normally
    ended = eos or bool(blank) or len(lines) > items or (len(lines) == items and body.endswith("\n"))
    return lines[:items], ended
