"""Base class of modality loaders: one file in, one sample out, or an InputError."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from unibind.errors import InputError


class Modality:
    """Reads files of one modality. Subclasses implement :meth:`read`."""

    name: str = ""

    def __init__(self, settings: BaseModel | None = None):
        self.settings = settings

    def load(self, path: str | Path) -> Any:
        """Load one file; every failure becomes an :class:`InputError` naming the file."""
        path = Path(path)
        if not path.exists():
            raise InputError(path, "file does not exist")
        if path.is_dir():
            raise InputError(path, "is a directory, expected a file")
        if path.stat().st_size == 0:
            raise InputError(path, "file is empty")
        try:
            return self.read(path)
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - a decoder's own error, made readable
            raise InputError(path, f"cannot read as {self.name or 'this modality'}: "
                                   f"{type(exc).__name__}: {exc}") from exc

    def read(self, path: Path) -> Any:
        raise NotImplementedError


class TextModality(Modality):
    """A UTF-8 text file is one text sample."""

    name = "text"

    def read(self, path: Path) -> str:
        try:
            text = path.read_text(encoding="utf-8").strip()
        except UnicodeDecodeError as exc:
            raise InputError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        if not text:
            raise InputError(path, "contains only whitespace")
        return text
