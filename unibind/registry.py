"""What every loaded plugin registered, and the queries the rest of UniBind asks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from unibind.errors import DuplicateRegistrationError, NotRegisteredError, SettingsError
from unibind.specs import SPEC_TYPES, Spec


class Registry:
    """Specs by kind and name. Names are unique within a kind."""

    def __init__(self) -> None:
        self._specs: dict[str, dict[str, Spec]] = {kind: {} for kind in SPEC_TYPES}

    def add(self, spec: Spec) -> None:
        if spec.kind not in self._specs:
            raise TypeError(f"not a registrable spec: {spec!r}")
        existing = self._specs[spec.kind].get(spec.name)
        if existing is not None:
            raise DuplicateRegistrationError(
                f"{spec.kind} {spec.name!r} is registered by both "
                f"{existing.plugin or '?'!r} and {spec.plugin or '?'!r}"
            )
        self._specs[spec.kind][spec.name] = spec

    def __iter__(self) -> Iterator[Spec]:
        for specs in self._specs.values():
            yield from specs.values()

    def __len__(self) -> int:
        return sum(len(s) for s in self._specs.values())

    def by_kind(self, kind: str) -> list[Spec]:
        self._check_kind(kind)
        return list(self._specs[kind].values())

    def by_plugin(self, plugin: str) -> list[Spec]:
        return [s for s in self if s.plugin == plugin]

    def by_modality(self, kind: str, modality: str) -> list[Spec]:
        """Specs of ``kind`` usable with ``modality`` (adapters with no modalities fit all)."""
        return [s for s in self.by_kind(kind) if _serves(s, modality)]

    def get(self, kind: str, name: str) -> Spec:
        """Explicit choice by name."""
        self._check_kind(kind)
        try:
            return self._specs[kind][name]
        except KeyError:
            known = ", ".join(sorted(self._specs[kind])) or "none"
            raise NotRegisteredError(f"no {kind} named {name!r} (registered: {known})") from None

    def defaults(self, kind: str, modality: str | None = None) -> list[Spec]:
        """Candidate defaults of ``kind`` for ``modality``, best first (priority, then name)."""
        pool = self.by_kind(kind) if modality is None else self.by_modality(kind, modality)
        candidates = [s for s in pool if getattr(s, "default", False)]
        return sorted(candidates, key=lambda s: (-getattr(s, "priority", 0), s.name))

    def default(self, kind: str, modality: str | None = None) -> Spec:
        """The default of ``kind`` for ``modality``: highest priority, then name order."""
        candidates = self.defaults(kind, modality)
        if not candidates:
            where = f" for modality {modality!r}" if modality else ""
            raise NotRegisteredError(f"no default {kind}{where}; is its plugin installed?")
        return candidates[0]

    def encoder_for(self, modality: str, name: str | None = None, *, needed_by: str) -> Spec:
        """The encoder called ``name`` (it must encode ``modality``), else ``modality``'s default.

        For components built on another modality's encoder (video frames, rendered point
        clouds, ...): errors say which component needed it.
        """
        wanted = f"{'an' if modality[:1] in 'aeiou' else 'a'} {modality} encoder"
        try:
            spec = self.get("encoder", name) if name else self.default("encoder", modality)
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
            for suffix in getattr(spec, "suffixes", ()):
                if name.endswith(suffix) and len(name) > len(suffix):
                    claims.setdefault(suffix, []).append(spec)
        if not claims:
            raise NotRegisteredError(f"no installed modality reads {Path(path).suffix.lower() or name!r} files")
        longest = max(claims, key=len)
        if len(claims[longest]) > 1:
            names = ", ".join(s.name for s in claims[longest])
            raise NotRegisteredError(f"{longest!r} files are read by several modalities ({names}); "
                                     "choose one explicitly")
        return claims[longest][0]

    def _check_kind(self, kind: str) -> None:
        if kind not in self._specs:
            raise NotRegisteredError(f"unknown kind {kind!r} (kinds: {', '.join(self._specs)})")


def _serves(spec: Spec, modality: str) -> bool:
    own = getattr(spec, "modality", None)
    if own is not None:
        return own == modality
    many = getattr(spec, "modalities", None)
    if many is not None:
        return not many or modality in many
    return False
