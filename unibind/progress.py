"""Progress bars for long runs (rich), silent for short ones."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

#: Below this many items no bar is drawn.
MIN_ITEMS_FOR_BAR = 16


def track(items: Iterable[T], *, total: int | None = None, description: str = "working",
          enabled: bool | None = None) -> Iterator[T]:
    """Iterate ``items``, drawing a progress bar on stderr when the run is long."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if enabled is None:
        enabled = total is None or total >= MIN_ITEMS_FOR_BAR
    if not enabled:
        yield from items
        return
    from rich.console import Console
    from rich.progress import track as rich_track

    yield from rich_track(items, total=total, description=description,
                          console=Console(stderr=True), transient=True)


def status(message: str) -> None:
    """One line on stderr before slow work the user did not ask for by name (e.g. a first-run cache).

    Silent when ``UNIBIND_QUIET`` is set; stdout stays for results.
    """
    import os
    import sys

    if os.environ.get("UNIBIND_QUIET"):
        return
    print(message, file=sys.stderr, flush=True)
