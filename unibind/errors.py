"""Errors the project raises on purpose, so callers can tell them from bugs."""

from __future__ import annotations

from pathlib import Path


class UniBindError(Exception):
    """Base class of every error UniBind raises deliberately."""


class InputError(UniBindError, ValueError):
    """A file or value given by the user cannot be used; names the file and the problem."""

    def __init__(self, source: str | Path, problem: str):
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")


class InputWarning(UserWarning):
    """An input that can be used but whose result means little (silent audio): kept, warned, recorded.

    Readers raise it with :func:`warnings.warn`; batch runs record it with the input's result.
    """

    def __init__(self, source: str | Path, problem: str):
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")


class PluginError(UniBindError):
    """A plugin failed to import or its hook raised (reported, or raised in strict mode)."""


class DuplicateRegistrationError(PluginError):
    """One plugin registered two components of the same kind under the same name."""


class PluginConfigError(PluginError):
    """The user's plugin settings (allow-list, preferences, config file) cannot be honoured."""


class NameConflictError(UniBindError, LookupError):
    """A bare component name is claimed by several plugins and no preference settles it."""


class NotRegisteredError(UniBindError, LookupError):
    """A component was asked for by name, kind or modality and nothing matches."""


class SettingsError(UniBindError, ValueError):
    """Settings given for a component do not validate against its settings model."""


def validation_message(exc: Exception) -> str:
    """A pydantic ``ValidationError`` as one line, ``field: problem; ...``, never quoting the input.

    The input may hold a secret (``api_key=...``) or be huge; the field name and the problem suffice.
    """
    errors = getattr(exc, "errors", None)
    if errors is None:
        return " ".join(str(exc).split())
    parts = []
    for error in errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(part) for part in error.get("loc", ()))
        message = error.get("msg", "invalid").removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)
