"""The plugin manager: finds plugins through entry points and keeps one broken
plugin from taking the others down.

Plugins are distributions that declare an entry point in the group ``unibind``
pointing at a module of hook implementations. Settings, all optional:

- ``UNIBIND_PLUGINS``: which plugins to load (comma-separated entry-point or
  distribution names; empty loads none; unset loads all). A name that is not
  installed is an error naming the installed ones.
- ``UNIBIND_STRICT=1`` (or ``strict=True``): a broken plugin, or a bare name two
  plugins claim with no preference, is an error instead of a note in
  ``unibind list-plugins``.
- ``UNIBIND_PREFER="encoder:efficientnet-lite0=image,modality:imu=imu"``: settles
  conflicts (a bare name claimed by several plugins; ``command:NAME=plugin`` for
  sub-commands two plugins add). The same entries can live in
  the config file (``UNIBIND_CONFIG``, else ``$XDG_CONFIG_HOME/unibind/config.toml``)
  under ``[prefer]``; the variable wins over the file for the same name.
"""

from __future__ import annotations

import importlib
import os
import traceback
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import pluggy

from unibind import hookspecs
from unibind.errors import DuplicateRegistrationError, PluginConfigError, PluginError
from unibind.registry import ENV_PREFER, Conflict, Preference, Registry, conflict_message
from unibind.specs import HOOK_KINDS, SPEC_TYPES, Spec

ENTRY_POINT_GROUP = "unibind"
ENV_PLUGINS = "UNIBIND_PLUGINS"
ENV_STRICT = "UNIBIND_STRICT"
ENV_CONFIG = "UNIBIND_CONFIG"
CORE_PLUGIN = "unibind"

_TRUE = {"1", "true", "yes", "on"}


@dataclass
class PluginInfo:
    """One loaded (or failed) plugin, as list-plugins shows it."""

    name: str
    distribution: str | None = None
    version: str | None = None
    builtin: bool = False
    status: Literal["ok", "broken"] = "ok"
    error: str | None = None
    traceback: str | None = None
    warnings: list[str] = field(default_factory=list)
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
            "warnings": list(self.warnings),
            "modalities": sorted(
                {m for s in self.specs for m in _modalities_of(s)}
            ),
            "registers": registers,
            "components": [{**s.describe(), "qualified_name": s.qualified_name} for s in self.specs],
        }


def _modalities_of(spec: Spec) -> tuple[str, ...]:
    if spec.kind == "modality":
        return (spec.name,)
    own = getattr(spec, "modality", None)
    return (own,) if own else tuple(getattr(spec, "modalities", ()) or ())


def _strict_from_env() -> bool:
    return os.environ.get(ENV_STRICT, "").strip().lower() in _TRUE


def _enabled_from_env() -> set[str] | None:
    raw = os.environ.get(ENV_PLUGINS)
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def config_file() -> Path:
    """``$UNIBIND_CONFIG``, else ``$XDG_CONFIG_HOME/unibind/config.toml``, else ``~/.config/...``."""
    explicit = os.environ.get(ENV_CONFIG)
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "unibind" / "config.toml"


def _one_line(exc: BaseException) -> str:
    """``Type: message`` on one line (pydantic errors span several)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _isolated(exc: BaseException) -> bool:
    """Everything a plugin can throw is isolated except the user's Ctrl-C."""
    return not isinstance(exc, KeyboardInterrupt)


def _parse_preference_entry(entry: str, source: str) -> tuple[str | None, str, str]:
    """``kind:name=plugin`` (or ``name=plugin``) -> (kind, name, plugin)."""
    key, sep, plugin = entry.partition("=")
    key, plugin = key.strip(), plugin.strip()
    if not sep or not key or not plugin:
        raise PluginConfigError(f"{source}: expected 'kind:name=plugin', got {entry.strip()!r}")
    kind, _, name = key.rpartition(":")
    if kind and kind not in (*SPEC_TYPES, "command"):
        raise PluginConfigError(f"{source}: {entry.strip()!r}: unknown kind {kind!r} "
                                f"(kinds: {', '.join(SPEC_TYPES)}, command)")
    return (kind or None), name, plugin


def read_preferences() -> list[tuple[str | None, str, str, str]]:
    """Preference entries (kind, name, plugin, source) from the config file, then the variable."""
    entries: list[tuple[str | None, str, str, str]] = []
    path = config_file()
    if os.environ.get(ENV_CONFIG) and str(path) != os.devnull and not path.is_file():
        raise PluginConfigError(f"{ENV_CONFIG} names {path}, which is not a file")
    if path.is_file():
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib  # type: ignore[no-redef]
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise PluginConfigError(f"{path}: cannot read the config file: {_one_line(exc)}") from None
        prefer = data.get("prefer", {})
        if not isinstance(prefer, dict) or not all(isinstance(v, str) for v in prefer.values()):
            raise PluginConfigError(f"{path}: [prefer] must map 'kind:name' to a plugin name")
        for key, plugin in prefer.items():
            entries.append((*_parse_preference_entry(f"{key}={plugin}", str(path)), str(path)))
    raw = os.environ.get(ENV_PREFER, "")
    for entry in raw.split(","):
        if entry.strip():
            entries.append((*_parse_preference_entry(entry, ENV_PREFER), ENV_PREFER))
    return entries


class PluginManager:
    """Wraps a pluggy manager; fills a :class:`Registry` from every plugin's hooks."""

    def __init__(self, *, strict: bool | None = None, enabled: set[str] | None | Literal["env"] = "env",
                 preferences: list[tuple[str | None, str, str, str]] | None | Literal["env"] = "env"):
        self.strict = _strict_from_env() if strict is None else strict
        self.enabled = _enabled_from_env() if enabled == "env" else enabled
        self._preference_entries = read_preferences() if preferences == "env" else list(preferences or [])
        self.pm = pluggy.PluginManager("unibind")
        self.pm.add_hookspecs(hookspecs)
        self.registry = Registry(settle_hint=f"or under [prefer] in {config_file()}")
        self.plugins: dict[str, PluginInfo] = {}
        #: Preferences about names nothing loaded registers (shown by list-plugins, not fatal).
        self.unused_preferences: list[str] = []
        #: Sub-command names several plugins add (see :meth:`add_commands`).
        self.command_conflicts: list[Conflict] = []

    # -- loading ----------------------------------------------------------------
    def load(self, entry_point_list: list[EntryPoint] | None = None) -> PluginManager:
        """Register the core built-ins, then every enabled entry point, then collect specs."""
        from unibind import builtins

        self.add_plugin(builtins, CORE_PLUGIN, builtin=True)
        eps = entry_point_list if entry_point_list is not None else entry_points(group=ENTRY_POINT_GROUP)
        eps = sorted(eps, key=lambda e: (e.name, _dist_name(e) or ""))
        self._check_allow_list(eps)
        for ep in eps:
            dist = getattr(ep, "dist", None)
            if self.enabled is not None and not {ep.name, dist.name if dist else None} & self.enabled:
                continue
            self._load_entry_point(ep)
        self.collect()
        return self

    def _check_allow_list(self, eps: list[EntryPoint]) -> None:
        if self.enabled is None:
            return
        known = {ep.name for ep in eps} | {ep.dist.name for ep in eps if getattr(ep, "dist", None)}
        unknown = sorted(self.enabled - known)
        if unknown:
            installed = ", ".join(ep.name for ep in eps) or "none"
            raise PluginConfigError(f"{ENV_PLUGINS} names {', '.join(map(repr, unknown))}, which "
                                    f"{'is' if len(unknown) == 1 else 'are'} not installed "
                                    f"(installed plugins: {installed})")

    def _load_entry_point(self, ep: EntryPoint) -> None:
        dist = getattr(ep, "dist", None)
        info = PluginInfo(
            name=ep.name,
            distribution=dist.name if dist else None,
            version=dist.version if dist else None,
        )
        if info.name in self.plugins:  # plugin names qualify components: they must be unique
            first = self.plugins[info.name]
            info.name = f"{ep.name}@{info.distribution}"
            self.plugins[info.name] = info
            self._fail(info, f"entry point name {ep.name!r} is also used by {first.distribution!r}; "
                             "rename one of them (plugin names must be unique)",
                       PluginError(ep.name))
            return
        self.plugins[info.name] = info
        try:
            module = ep.load()
        except BaseException as exc:
            if not _isolated(exc):
                raise
            self._fail(info, f"import of {ep.value} failed: {_one_line(exc)}", exc)
            return
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
            from unibind.version import __version__

            distribution, version = "unibind", __version__
        info = PluginInfo(name=name, distribution=distribution, version=version, builtin=builtin)
        self.plugins[name] = info
        self._register_with_pluggy(plugin, info)
        return info

    def _register_with_pluggy(self, plugin: object, info: PluginInfo) -> None:
        try:
            self.pm.register(plugin, name=info.name)
        except Exception as exc:  # noqa: BLE001 - e.g. a hook with the wrong arguments
            self._fail(info, f"registration failed: {_one_line(exc)}", exc)
            return
        unknown = sorted(hc.name for hc in self.pm.get_hookcallers(plugin) or [] if hc.spec is None)
        if unknown:
            self.pm.unregister(plugin)
            self._fail(info, f"implements hooks that are not in the contract: {', '.join(unknown)}",
                       PluginError(", ".join(unknown)))

    # -- collecting specs -----------------------------------------------------------
    def collect(self) -> Registry:
        """Call every plugin's registration hooks; a plugin that fails registers nothing.

        A bare name another plugin also claims is not a failure: both stay, and the
        name is a conflict the user settles (see :meth:`Registry.conflicts`).
        """
        for plugin_name, info in self.plugins.items():
            if info.status == "broken" or info.specs:
                continue
            staged: list[tuple[str, Spec]] = []
            try:
                for hook_name, kind in HOOK_KINDS.items():
                    for impl in self._impls(hook_name, plugin_name):
                        self._call_registration_hook(impl, hook_name, kind, staged, info)
            except BaseException as exc:
                if not _isolated(exc):
                    raise
                self._fail(info, str(exc) if isinstance(exc, _HookError) else _one_line(exc), exc)
                continue
            for hook_name, spec in staged:
                try:
                    self.registry.add(spec)
                except DuplicateRegistrationError as exc:
                    # roll back: a half-registered plugin would look fine and act oddly
                    self.registry.remove_plugin(plugin_name)
                    self._fail(info, f"{hook_name}: {exc}", exc)
                    break
            if info.status != "broken":
                info.specs = [spec for _, spec in staged]
        self._apply_preferences()
        if self.strict and self.registry.unsettled():
            first = self.registry.unsettled()[0]
            raise PluginError(conflict_message(first.kind, first.name, list(first.plugins),
                                               self.registry.settle_hint))
        return self.registry

    def _call_registration_hook(self, impl: pluggy.HookImpl, hook_name: str, kind: str,
                                staged: list[tuple[str, Spec]], info: PluginInfo) -> None:
        expected = SPEC_TYPES[kind]
        before = len(staged)

        def register(spec: Spec) -> None:
            if not isinstance(spec, expected):
                raise _HookError(f"{hook_name}: register() expected a {expected.__name__}, "
                                 f"got {type(spec).__name__}")
            staged.append((hook_name, spec.replace(plugin=info.name)))

        try:
            returned = impl.function(register=register)
        except _HookError:
            raise
        except BaseException as exc:
            if not _isolated(exc):
                raise
            raise _HookError(f"{hook_name} raised {_one_line(exc)}") from exc
        unregistered = _specs_in(returned)
        if unregistered and len(staged) == before:
            info.warnings.append(f"{hook_name} returned {len(unregistered)} spec(s) "
                                 f"({', '.join(s.name for s in unregistered)}) instead of calling "
                                 "register(spec); nothing was registered from it")

    def _impls(self, hook_name: str, plugin_name: str) -> list[pluggy.HookImpl]:
        hook = getattr(self.pm.hook, hook_name)
        return [impl for impl in hook.get_hookimpls() if impl.plugin_name == plugin_name]

    def _apply_preferences(self) -> None:
        """Turn the user's preference entries into registry preferences, or say why not.

        A preference that cannot be honoured while some loaded plugin claims the name is an
        error (using the other plugin's component would be a silent wrong choice); one about
        a name nothing loaded claims is kept in :attr:`unused_preferences` and shown.
        """
        self.unused_preferences = []
        for kind, name, plugin, source in self._preference_entries:
            if kind == "command":  # settled in add_commands
                continue
            claimed_by = sorted({s.plugin for k in ([kind] if kind else SPEC_TYPES)
                                 for s in self.registry.claimants(k, name)})
            what = f"{kind} {name!r}" if kind else repr(name)
            owner = self._plugin_named(plugin)
            if owner is None or owner.status == "broken" or owner.name not in claimed_by:
                if not claimed_by:
                    self.unused_preferences.append(f"{source}: {what}={plugin} (nothing loaded registers {what})")
                    continue
                if owner is None:
                    why = f"plugin {plugin!r} is not loaded (loaded plugins: {', '.join(sorted(self.plugins))})"
                elif owner.status == "broken":
                    why = f"plugin {owner.name!r} is broken: {owner.error}"
                else:
                    why = f"plugin {owner.name!r} registers no {what}"
                raise PluginConfigError(f"{source} prefers {plugin!r} for {what}, but {why}; "
                                        f"{what} is registered by: {', '.join(claimed_by)}")
            kinds = [kind] if kind else sorted({s.kind for s in owner.specs if s.name == name})
            for k in kinds:
                self.registry.prefer(Preference(k, name, owner.name, source))

    def _plugin_named(self, name: str) -> PluginInfo | None:
        for info in self.plugins.values():
            if name in (info.name, info.distribution):
                return info
        return None

    def add_commands(self, cli: Any) -> None:
        """Let each plugin add its sub-commands; a failing plugin is marked broken.

        Command names follow the component rules: a plugin never replaces the core's
        command; a name two plugins add is a conflict (both reachable as ``plugin:name``,
        the bare name says so when used, ``command:name=plugin`` settles it).
        """
        offered: dict[tuple[int, str], list[tuple[str, Any]]] = {}
        groups: dict[int, Any] = {}
        for info in list(self.plugins.values()):
            if info.status == "broken":
                continue
            for impl in self._impls("unibind_commands", info.name):
                before = {id(g): (g, dict(g.commands)) for g in _groups(cli)}
                try:
                    impl.function(cli=cli)
                except BaseException as exc:
                    if not _isolated(exc):
                        raise
                    for group, commands in before.values():
                        group.commands.clear()
                        group.commands.update(commands)
                    self._fail(info, f"unibind_commands raised {_one_line(exc)}", exc)
                    # all or nothing, as in collect: a plugin marked broken must not go on serving its components
                    self.registry.remove_plugin(info.name)
                    info.specs = []
                    continue
                for key, (group, commands) in before.items():
                    for name, command in list(group.commands.items()):
                        if commands.get(name) is command:
                            continue
                        # plugins' commands wait here until all have spoken, so none sees another's
                        if name in commands:  # the core's: never replaced
                            group.commands[name] = commands[name]
                            info.warnings.append(f"unibind_commands: command {name!r} is the core's; "
                                                 "not replaced")
                            continue
                        del group.commands[name]
                        groups[key] = group
                        offered.setdefault((key, name), []).append((info.name, command))
        chosen = {(p.name, p.plugin): p for p in self._command_preferences()}
        for (key, name), offers in offered.items():
            group = groups[key]
            if len(offers) == 1:
                group.add_command(offers[0][1], name)
                continue
            plugins = tuple(sorted(p for p, _ in offers))
            preference = next((chosen[(name, p)] for p in plugins if (name, p) in chosen), None)
            self.command_conflicts.append(Conflict("command", name, plugins, preference))
            for plugin, command in offers:
                group.add_command(command, f"{plugin}:{name}")
                if preference is not None and plugin == preference.plugin:
                    group.add_command(command, name)
            if preference is None:
                group.add_command(_conflict_command(name, list(plugins), self.registry.settle_hint), name)

    def _command_preferences(self) -> list[Preference]:
        return [Preference("command", name, self._plugin_named(plugin).name if self._plugin_named(plugin) else plugin,
                           source)
                for kind, name, plugin, source in self._preference_entries if kind == "command"]

    def _fail(self, info: PluginInfo, message: str, exc: BaseException) -> None:
        info.status = "broken"
        info.error = message
        info.traceback = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        if self.strict:
            error_type = type(exc) if isinstance(exc, PluginError) else PluginError
            raise error_type(f"plugin {info.name!r} is broken: {message} (strict mode)") from exc

    # -- queries ------------------------------------------------------------------------
    def broken(self) -> list[PluginInfo]:
        return [p for p in self.plugins.values() if p.status == "broken"]

    def conflicts(self) -> list[Conflict]:
        return self.registry.conflicts() + self.command_conflicts


class _HookError(PluginError):
    """A registration hook went wrong; the message already names the hook."""


def _dist_name(ep: Any) -> str | None:
    dist = getattr(ep, "dist", None)
    return dist.name if dist else None


def _groups(cli: Any) -> list[Any]:
    """``cli`` and every sub-group in it (plugins may add to ``bench`` and the like)."""
    found, todo = [], [cli]
    while todo:
        group = todo.pop()
        found.append(group)
        todo.extend(c for c in getattr(group, "commands", {}).values() if hasattr(c, "commands"))
    return found


def _conflict_command(name: str, plugins: list[str], settle_hint: str) -> Any:
    """Stands in for a command name two plugins add: using it says so, in one line."""
    import click

    message = conflict_message("command", name, plugins, settle_hint)

    @click.command(name, context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                           "help_option_names": []},
                   help=f"Provided by {' and '.join(plugins)}: use " + " or ".join(f"{p}:{name}" for p in plugins))
    def conflicted() -> None:
        raise click.UsageError(message)

    return conflicted


def _specs_in(returned: Any) -> list[Spec]:
    if isinstance(returned, Spec):
        return [returned]
    if isinstance(returned, (list, tuple, set)):
        return [item for item in returned if isinstance(item, Spec)]
    return []


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
