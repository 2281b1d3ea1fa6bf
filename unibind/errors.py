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
