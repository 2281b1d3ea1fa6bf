"""The plugin manager: finds plugins through entry points and keeps one broken
plugin from taking the others down.

Plugins are distributions that declare an entry point in the group ``unibind``
pointing at a module of hook implementations. ``UNIBIND_PLUGINS`` names which
of them to load (comma-separated entry-point names; empty loads none; unset
loads all). ``UNIBIND_STRICT=1`` (or ``strict=True``) turns a broken plugin
into an error instead of a note in ``unibind list-plugins``.
"""

from __future__ import annotations

import importlib
import os
import traceback
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any, Literal

import pluggy

from unibind import hookspecs
from unibind.errors import PluginError
from unibind.registry import Registry
from unibind.specs import HOOK_KINDS, SPEC_TYPES, Spec

ENTRY_POINT_GROUP = "unibind"
ENV_PLUGINS = "UNIBIND_PLUGINS"
ENV_STRICT = "UNIBIND_STRICT"
CORE_PLUGIN = "unibind"


@dataclass
class PluginInfo:
    """One loaded (or failed) plugin, as list-plugins shows it."""

    name: str
    distribution: str | None = None
    version: str | None = None
    builtin: bool = False
    status: Literal["ok", "broken"] = "ok"
    error: str | None = None
    specs: list[Spec] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        registers: dict[str, list[str]] = {}
        for spec in self.specs:
            registers.setdefault(spec.kind, []).append(spec.name)
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "builtin": self.builtin,
            "status": self.status,
            "error": self.error,
            "modalities": sorted(
                {m for s in self.specs for m in _modalities_of(s)}
            ),
            "registers": registers,
            "components": [s.describe() for s in self.specs],
        }


def _modalities_of(spec: Spec) -> tuple[str, ...]:
    if spec.kind == "modality":
        return (spec.name,)
    own = getattr(spec, "modality", None)
    return (own,) if own else tuple(getattr(spec, "modalities", ()) or ())


def _strict_from_env() -> bool:
    return os.environ.get(ENV_STRICT, "").strip().lower() in {"1", "true", "yes", "on"}


def _enabled_from_env() -> set[str] | None:
    raw = os.environ.get(ENV_PLUGINS)
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


class PluginManager:
    """Wraps a pluggy manager; fills a :class:`Registry` from every plugin's hooks."""

    def __init__(self, *, strict: bool | None = None, enabled: set[str] | None | Literal["env"] = "env"):
        self.strict = _strict_from_env() if strict is None else strict
        self.enabled = _enabled_from_env() if enabled == "env" else enabled
        self.pm = pluggy.PluginManager("unibind")
        self.pm.add_hookspecs(hookspecs)
        self.registry = Registry()
        self.plugins: dict[str, PluginInfo] = {}

    # -- loading ----------------------------------------------------------------
    def load(self, entry_point_list: list[EntryPoint] | None = None) -> PluginManager:
        """Register the core built-ins, then every enabled entry point, then collect specs."""
        from unibind import builtins

        self.add_plugin(builtins, CORE_PLUGIN, builtin=True)
        eps = entry_point_list if entry_point_list is not None else entry_points(group=ENTRY_POINT_GROUP)
        for ep in sorted(eps, key=lambda e: e.name):
            if self.enabled is not None and ep.name not in self.enabled:
                continue
            self._load_entry_point(ep)
        self.collect()
        return self

    def _load_entry_point(self, ep: EntryPoint) -> None:
        dist = getattr(ep, "dist", None)
        info = PluginInfo(
            name=ep.name,
            distribution=dist.name if dist else None,
            version=dist.version if dist else None,
        )
        try:
            module = ep.load()
        except Exception as exc:  # noqa: BLE001 - isolation is the point
            self._fail(info, f"import failed: {type(exc).__name__}: {exc}", exc)
            self.plugins[info.name] = info
            return
        self.plugins[info.name] = info
        self._register_with_pluggy(module, info)

    def add_plugin(
        self,
        plugin: ModuleType | object | str,
        name: str,
        *,
        builtin: bool = False,
        distribution: str | None = None,
        version: str | None = None,
    ) -> PluginInfo:
        """Register a module or object of hook implementations directly (tests, built-ins)."""
        if isinstance(plugin, str):
            plugin = importlib.import_module(plugin)
        if builtin and distribution is None:
            from unibind import __version__

            distribution, version = "unibind", __version__
        info = PluginInfo(name=name, distribution=distribution, version=version, builtin=builtin)
        self.plugins[name] = info
        self._register_with_pluggy(plugin, info)
        return info

    def _register_with_pluggy(self, plugin: object, info: PluginInfo) -> None:
        try:
            self.pm.register(plugin, name=info.name)
        except Exception as exc:  # noqa: BLE001 - e.g. a hook with the wrong arguments
            self._fail(info, f"registration failed: {type(exc).__name__}: {exc}", exc)
            return
        unknown = sorted(hc.name for hc in self.pm.get_hookcallers(plugin) or [] if hc.spec is None)
        if unknown:
            self.pm.unregister(plugin)
            self._fail(info, f"implements hooks that are not in the contract: {', '.join(unknown)}",
                       PluginError(", ".join(unknown)))

    # -- collecting specs -----------------------------------------------------------
    def collect(self) -> Registry:
        """Call every plugin's registration hooks; a plugin that raises registers nothing."""
        for plugin_name, info in self.plugins.items():
            if info.status == "broken" or info.specs:
                continue
            staged: list[Spec] = []
            try:
                for hook_name, kind in HOOK_KINDS.items():
                    for impl in self._impls(hook_name, plugin_name):
                        impl.function(**{"register": self._stager(staged, plugin_name, kind)})
            except Exception as exc:  # noqa: BLE001
                self._fail(info, f"hook raised: {type(exc).__name__}: {exc}", exc)
                continue
            for spec in staged:
                try:
                    self.registry.add(spec)
                except PluginError as exc:
                    self._fail(info, str(exc), exc)
                    break
                info.specs.append(spec)
            if info.status == "broken":
                # keep the registry free of a half-registered plugin
                for spec in info.specs:
                    self.registry._specs[spec.kind].pop(spec.name, None)
                info.specs.clear()
        return self.registry

    def _impls(self, hook_name: str, plugin_name: str) -> list[pluggy.HookImpl]:
        hook = getattr(self.pm.hook, hook_name)
        return [impl for impl in hook.get_hookimpls() if impl.plugin_name == plugin_name]

    @staticmethod
    def _stager(staged: list[Spec], plugin_name: str, kind: str):
        expected = SPEC_TYPES[kind]

        def register(spec: Spec) -> None:
            if not isinstance(spec, expected):
                raise TypeError(f"expected a {expected.__name__}, got {type(spec).__name__}")
            staged.append(spec.model_copy(update={"plugin": plugin_name}))

        return register

    def add_commands(self, cli: Any) -> None:
        """Let each plugin add its sub-commands; a failing plugin is marked broken."""
        for info in list(self.plugins.values()):
            if info.status == "broken":
                continue
            for impl in self._impls("unibind_commands", info.name):
                try:
                    impl.function(cli=cli)
                except Exception as exc:  # noqa: BLE001
                    self._fail(info, f"unibind_commands raised: {type(exc).__name__}: {exc}", exc)

    def _fail(self, info: PluginInfo, message: str, exc: BaseException) -> None:
        info.status = "broken"
        info.error = message
        if self.strict:
            error_type = type(exc) if isinstance(exc, PluginError) else PluginError
            raise error_type(f"plugin {info.name!r}: {message}") from exc
        info.traceback = "".join(traceback.format_exception(exc))  # type: ignore[attr-defined]

    # -- queries ------------------------------------------------------------------------
    def broken(self) -> list[PluginInfo]:
        return [p for p in self.plugins.values() if p.status == "broken"]


_manager: PluginManager | None = None


def get_plugin_manager() -> PluginManager:
    """The process-wide manager, loaded on first use."""
    global _manager
    if _manager is None:
        _manager = PluginManager().load()
    return _manager


def get_registry() -> Registry:
    return get_plugin_manager().registry


def reset_plugin_manager(manager: PluginManager | None = None) -> None:
    """Forget (or replace) the process-wide manager; tests use this."""
    global _manager
    _manager = manager
