"""Option types that refuse a bad value where it enters, naming the option (errors at the edge).

Counts and sizes use click's own ranges (``click.IntRange(min=1)``); this module
holds what click has no type for: a list of class labels, and a space directory; and whether the user
gave an option at all (:func:`given`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

#: Shared ranges, so every command says the same thing about the same kind of value.
POSITIVE = click.IntRange(min=1)
NON_NEGATIVE = click.IntRange(min=0)
POSITIVE_FLOAT = click.FloatRange(min=0, min_open=True)
PROBABILITY = click.FloatRange(0, 1)
OPEN_FRACTION = click.FloatRange(0, 1, min_open=True, max_open=True)


def given(name: str) -> bool:
    """Whether the user set option ``name`` of the running command (not left at its default)."""
    from click.core import ParameterSource

    source = click.get_current_context().get_parameter_source(name)
    return source not in (ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP, None)


class LabelList(click.ParamType):
    """Comma-separated class labels: no empty ones, none without a letter or digit, no duplicates, at least
    ``minimum``.

    Duplicates are refused, not merged: "dog,cat,dog" would split a class's probability
    between two rows ("dog 0.50, runner-up dog 0.50"), a silently wrong answer.
    """

    name = "labels"

    def __init__(self, minimum: int = 2):
        self.minimum = minimum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> list[str]:
        if isinstance(value, list):
            return value
        labels = [part.strip() for part in str(value).split(",")]
        if any(not label for label in labels):
            empty = sum(not label for label in labels)
            self.fail(f"{value!r} has {empty} empty label(s); give comma-separated names such as 'dog,cat'",
                      param, ctx)
        nameless = [label for label in labels if not any(ch.isalnum() for ch in label)]
        if nameless:  # no class is named by punctuation alone; a space would build centres for it
            self.fail(f"label(s) {', '.join(map(repr, nameless))} have no letter or digit: give class names such as "
                      "'dog,cat'", param, ctx)
        seen: dict[str, str] = {}
        repeated = []
        for label in labels:
            key = label.casefold()
            if key in seen:
                repeated.append(label)
            seen.setdefault(key, label)
        if repeated:
            self.fail(f"duplicate label(s) {', '.join(sorted(set(repeated)))}: each class once", param, ctx)
        if len(labels) < self.minimum:
            self.fail(f"{len(labels)} label given, at least {self.minimum} needed: with one class every "
                      "answer is that class with probability 1", param, ctx)
        return labels


class SpaceDir(click.ParamType):
    """An existing space directory: ``space.json`` (from ``unibind train``), or fitted calibrators.

    A missing or empty folder is refused instead of silently meaning "the default space"
    (a typo must not read, or write into, a folder of its own).
    """

    name = "space"

    def __init__(self, calibrators_only_ok: bool = True):
        self.calibrators_only_ok = calibrators_only_ok

    def problem(self, path: Path) -> str | None:
        """Why ``path`` is not a usable space directory, or None."""
        if not path.exists():
            return f"{path}: no such space directory"
        if not path.is_dir():
            return f"{path}: not a directory (a space is a folder holding space.json)"
        if (path / "space.json").is_file() or (self.calibrators_only_ok and any(
                (path / folder).is_dir() for folder in ("calibrators", "multilabel"))):
            return None
        extra = " or calibrators/" if self.calibrators_only_ok else ""
        return f"{path}: not a space directory: no space.json{extra} (train one with `unibind train`)"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        path = Path(value)
        problem = self.problem(path)
        if problem:
            self.fail(problem, param, ctx)
        return path
