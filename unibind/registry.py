"""What every loaded plugin registered, and the queries the rest of UniBind asks.

Every component has a qualified name ``plugin:name`` that always resolves. A bare
name resolves when one plugin claims it; when two plugins claim it, it is a
*conflict*: both components stay registered (reachable by qualified name), and
using the bare name is an error naming both plugins, until the user settles it
with a preference (``UNIBIND_PREFER`` or the config file; see
:mod:`unibind.plugins`). Load order never decides.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from unibind.errors import (
    DuplicateRegistrationError,
    NameConflictError,
    NotRegisteredError,
    SettingsError,
)
from unibind.specs import SPEC_TYPES, Spec

ENV_PREFER = "UNIBIND_PREFER"


@dataclass(frozen=True)
class Preference:
    """The user's answer to a conflict: bare ``name`` of ``kind`` means ``plugin``'s."""

    kind: str
    name: str
    plugin: str
    source: str  # where the user said so: the variable or the config file


@dataclass(frozen=True)
class Conflict:
    """A bare name claimed by several plugins, and the preference settling it (if any)."""

    kind: str
    name: str
    plugins: tuple[str, ...]
    chosen: Preference | None

    def describe(self) -> str:
        claim = f"{self.kind} {self.name!r} is registered by {_both(self.plugins)}"
        if self.chosen is not None:
            return f"{claim}; {self.chosen.plugin!r} chosen by {self.chosen.source}"
        return f"{claim}; unsettled"

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "name": self.name, "plugins": list(self.plugins),
                "chosen": self.chosen.plugin if self.chosen else None,
                "chosen_by": self.chosen.source if self.chosen else None}


def _both(plugins: tuple[str, ...] | list[str]) -> str:
    quoted = [repr(p) for p in plugins]
    return " and ".join(quoted) if len(quoted) <= 2 else ", ".join(quoted[:-1]) + f" and {quoted[-1]}"


class Registry:
    """Specs by kind and qualified name (``plugin:name``)."""

    def __init__(self, preferences: list[Preference] | None = None, *, settle_hint: str = "") -> None:
        self._specs: dict[str, dict[str, Spec]] = {kind: {} for kind in SPEC_TYPES}
        self._preferences: dict[tuple[str, str], Preference] = {}
        #: Where else (besides the variable) a preference can be written; names the config file.
        self.settle_hint = settle_hint
        for preference in preferences or ():
            self.prefer(preference)

    # -- filling -----------------------------------------------------------------------
    def add(self, spec: Spec) -> None:
        if spec.kind not in self._specs:
            raise TypeError(f"not a registrable spec: {spec!r}")
        key = spec.qualified_name
        if key in self._specs[spec.kind]:
            who = repr(spec.plugin) if spec.plugin else "the same caller"
            raise DuplicateRegistrationError(f"{spec.kind} {spec.name!r} is registered twice by {who}")
        self._specs[spec.kind][key] = spec

    def remove_plugin(self, plugin: str) -> list[Spec]:
        """Take out everything ``plugin`` registered (rolling back a half-registered plugin)."""
        removed = []
        for specs in self._specs.values():
            for key in [k for k, s in specs.items() if s.plugin == plugin]:
                removed.append(specs.pop(key))
        return removed

    def prefer(self, preference: Preference) -> None:
        """Settle the bare name ``preference.name`` of ``preference.kind`` on one plugin."""
        self._check_kind(preference.kind)
        self._preferences[(preference.kind, preference.name)] = preference

    def preferences(self) -> list[Preference]:
        return list(self._preferences.values())

    # -- listing -----------------------------------------------------------------------
    def __iter__(self) -> Iterator[Spec]:
        for specs in self._specs.values():
            yield from specs.values()

    def __len__(self) -> int:
        return sum(len(s) for s in self._specs.values())

    def by_kind(self, kind: str) -> list[Spec]:
        """Every spec of ``kind``, both sides of any conflict included."""
        self._check_kind(kind)
        return list(self._specs[kind].values())

    def by_plugin(self, plugin: str) -> list[Spec]:
        return [s for s in self if s.plugin == plugin]

    def by_modality(self, kind: str, modality: str) -> list[Spec]:
        """Specs of ``kind`` usable with ``modality`` (adapters with no modalities fit all)."""
        return [s for s in self.by_kind(kind) if _serves(s, modality)]

    def claimants(self, kind: str, name: str) -> list[Spec]:
        """Every spec of ``kind`` whose bare name is ``name``, by plugin name."""
        return sorted((s for s in self.by_kind(kind) if s.name == name), key=lambda s: s.plugin)

    def conflicts(self) -> list[Conflict]:
        """Bare names claimed by more than one plugin, settled or not."""
        found = []
        for kind, specs in self._specs.items():
            names = sorted({s.name for s in specs.values()})
            for name in names:
                owners = self.claimants(kind, name)
                if len(owners) > 1:
                    found.append(Conflict(kind, name, tuple(s.plugin for s in owners),
                                          self._preferences.get((kind, name))))
        return found

    def unsettled(self) -> list[Conflict]:
        return [c for c in self.conflicts() if c.chosen is None]

    # -- resolving ---------------------------------------------------------------------
    def get(self, kind: str, name: str) -> Spec:
        """Explicit choice: ``plugin:name`` always; a bare ``name`` unless it is in conflict."""
        self._check_kind(kind)
        if ":" in name:
            return self._get_qualified(kind, name)
        owners = self.claimants(kind, name)
        if not owners:
            known = ", ".join(sorted({s.name for s in self._specs[kind].values()})) or "none"
            raise NotRegisteredError(f"no {kind} named {name!r} (registered: {known})")
        if len(owners) == 1:
            return owners[0]
        return self._settled(kind, name, owners)

    def reference(self, spec: Spec) -> str:
        """The shortest name that resolves to ``spec``: bare when unambiguous, else qualified."""
        try:
            if self.get(spec.kind, spec.name) is spec:
                return spec.name
        except NameConflictError:
            pass
        return spec.qualified_name

    def defaults(self, kind: str, modality: str | None = None) -> list[Spec]:
        """Candidate defaults of ``kind`` for ``modality``, best first (priority, name, plugin).

        Where several plugins offer the same name at the same priority, a preference keeps
        only the preferred one (unsettled, all stay; :meth:`default` refuses to pick).
        """
        pool = self.by_kind(kind) if modality is None else self.by_modality(kind, modality)
        candidates = [s for s in pool if getattr(s, "default", False)]
        ranked = sorted(candidates, key=lambda s: (-getattr(s, "priority", 0), s.name, s.plugin))
        return [s for s in ranked if not (self._passed_over(s) and self._ties(s, ranked))]

    def default(self, kind: str, modality: str | None = None) -> Spec:
        """The default of ``kind`` for ``modality``: highest priority, then name order.

        Two plugins offering the same name at the top priority is the conflict error until
        a preference settles it: the default would otherwise depend on which plugin it is.
        """
        candidates = self.defaults(kind, modality)
        if not candidates:
            where = f" for modality {modality!r}" if modality else ""
            raise NotRegisteredError(f"no default {kind}{where}; is its plugin installed?")
        best = candidates[0]
        tied = self._ties(best, candidates)
        if tied:
            return self._settled(kind, best.name, [best, *tied])
        return best

    def encoder_for(self, modality: str, name: str | None = None, *, needed_by: str) -> Spec:
        """The encoder called ``name`` (it must encode ``modality``), else ``modality``'s default.

        For components built on another modality's encoder (video frames, rendered point
        clouds, ...): errors say which component needed it.
        """
        wanted = f"{'an' if modality[:1] in 'aeiou' else 'a'} {modality} encoder"
        try:
            spec = self.get("encoder", name) if name else self.default("encoder", modality)
        except NameConflictError:
            raise
        except NotRegisteredError as exc:
            raise NotRegisteredError(f"{needed_by} needs {wanted}: {exc} "
                                     "(is its plugin installed and enabled?)") from exc
        if getattr(spec, "modality", None) != modality:
            raise SettingsError(f"{needed_by} needs {wanted}; "
                                f"{spec.name!r} encodes {getattr(spec, 'modality', '?')!r}")
        return spec

    def modality_for_suffix(self, suffix: str) -> Spec:
        """The modality that reads files ending in ``suffix``."""
        return self.modality_for_path(f"file{suffix}")

    def modality_for_path(self, path: str | Path) -> Spec:
        """The modality that reads ``path``, by the longest suffix any modality claims.

        ``scan.depth.png`` goes to a modality claiming ``.depth.png`` before one
        claiming ``.png``. Two modalities claiming the same longest suffix is an
        error naming both, never a silent pick by plugin order.
        """
        name = Path(path).name.lower()
        claims: dict[str, list[Spec]] = {}
        for spec in self.by_kind("modality"):
            if self._passed_over(spec):
                continue
            for suffix in getattr(spec, "suffixes", ()):
                if name.endswith(suffix) and len(name) > len(suffix):
                    claims.setdefault(suffix, []).append(spec)
        if not claims:
            raise NotRegisteredError(f"no installed modality reads {Path(path).suffix.lower() or name!r} files")
        longest = max(claims, key=len)
        specs = claims[longest]
        if len(specs) > 1 and len({s.name for s in specs}) == 1:
            return self._settled("modality", specs[0].name, self.claimants("modality", specs[0].name))
        if len(specs) > 1:
            names = ", ".join(self.reference(s) for s in specs)
            raise NotRegisteredError(f"{longest!r} files are read by several modalities ({names}); "
                                     "choose one explicitly")
        return specs[0]

    # -- internals ----------------------------------------------------------------------
    def _get_qualified(self, kind: str, qualified: str) -> Spec:
        spec = self._specs[kind].get(qualified)
        if spec is not None:
            return spec
        plugin, _, bare = qualified.partition(":")
        offered = sorted(s.name for s in self._specs[kind].values() if s.plugin == plugin)
        if offered:
            raise NotRegisteredError(f"plugin {plugin!r} registers no {kind} named {bare!r} "
                                     f"(its {kind}s: {', '.join(offered)})")
        owners = sorted({s.plugin for s in self.claimants(kind, bare)})
        hint = f"; {kind} {bare!r} comes from {_both(owners)}" if owners else ""
        raise NotRegisteredError(f"no {kind} {qualified!r}: plugin {plugin!r} registers no {kind}s{hint}")

    @staticmethod
    def _ties(spec: Spec, ranked: list[Spec]) -> list[Spec]:
        """Other plugins' specs of the same name and priority as ``spec`` among ``ranked``."""
        rank = getattr(spec, "priority", 0)
        return [s for s in ranked if s is not spec and s.name == spec.name and getattr(s, "priority", 0) == rank]

    def _passed_over(self, spec: Spec) -> bool:
        chosen = self._preferences.get((spec.kind, spec.name))
        return chosen is not None and chosen.plugin != spec.plugin and len(self.claimants(spec.kind, spec.name)) > 1

    def _settled(self, kind: str, name: str, owners: list[Spec]) -> Spec:
        chosen = self._preferences.get((kind, name))
        if chosen is not None:
            for spec in owners:
                if spec.plugin == chosen.plugin:
                    return spec
        raise NameConflictError(conflict_message(kind, name, [s.plugin for s in owners], self.settle_hint))

    def _check_kind(self, kind: str) -> None:
        if kind not in self._specs:
            raise NotRegisteredError(f"unknown kind {kind!r} (kinds: {', '.join(self._specs)})")


def conflict_message(kind: str, name: str, plugins: list[str], settle_hint: str = "") -> str:
    """One line: who claims the name, and the two ways to settle it."""
    qualified = " or ".join(f"'{p}:{name}'" for p in plugins)
    where = f" ({settle_hint})" if settle_hint else ""
    return (f"{kind} {name!r} is registered by {_both(plugins)}; use {qualified}, or choose one with "
            f"{ENV_PREFER}=\"{kind}:{name}={plugins[0]}\"{where}")


def _serves(spec: Spec, modality: str) -> bool:
    own = getattr(spec, "modality", None)
    if own is not None:
        return own == modality
    many = getattr(spec, "modalities", None)
    if many is not None:
        return not many or modality in many
    return False
