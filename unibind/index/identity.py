"""Which space an index was built with: a hash of what decides its vectors, never of mtimes.

A space directory is identified by the content of ``space.json`` (without the
calibrator entries and metrics, which ``unibind calibrate fit`` rewrites
without changing a vector), of its adapter and centres files, and by the
encoder and adapter names; the embedded default by the names and settings of
its default encoders and adapters and the version of UniBind. File digests and
hashes come from :mod:`unibind.identity`, like every other identity.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from unibind.identity import file_digest, identity_hash

#: Fields of space.json that change without changing any embedding.
_VOLATILE = ("calibrators", "metrics")


def space_identity(space: Any) -> dict[str, Any]:
    """``{"hash": ..., "source": path or "embedded default", "encoders": {...}}`` of ``space``."""
    space_dir = getattr(space, "space_dir", None)
    if space_dir is not None:
        return _dir_identity(Path(space_dir))
    return _default_identity(space)


def _dir_identity(space_dir: Path) -> dict[str, Any]:
    record = json.loads((space_dir / "space.json").read_text(encoding="utf-8"))
    for key in _VOLATILE:
        record.pop(key, None)
    files = {}
    for relative in [m.get("adapter_file") for m in record.get("modalities", {}).values()] + [record.get("centres")]:
        if relative and (space_dir / relative).is_file():
            files[relative] = file_digest(space_dir / relative)
    encoders = {"text": record.get("text_encoder"),
                **{m: r.get("encoder") for m, r in record.get("modalities", {}).items()}}
    content = {"record": record, "files": files, "encoders": encoders}
    return {"hash": identity_hash(content), "source": str(space_dir.resolve()), "encoders": encoders}


def _default_identity(space: Any) -> dict[str, Any]:
    from unibind.version import __version__
    from unibind.errors import NotRegisteredError

    registry = space.registry
    parts: dict[str, Any] = {}
    for spec in registry.by_kind("modality"):
        modality = spec.name
        try:
            encoder = space.encoder_choice.get(modality) or registry.default("encoder", modality).name
            defaults = registry.defaults("adapter", modality)
            adapter = space.adapter_choice.get(modality) or (defaults[0].name if defaults else None)
        except NotRegisteredError:
            continue
        parts[modality] = {"encoder": encoder, "adapter": adapter,
                           "settings": {n: space.settings.get(n) for n in (encoder, adapter) if space.settings.get(n)}}
    content = {"default": parts, "unibind": __version__}
    return {"hash": identity_hash(content), "source": "embedded default",
            "encoders": {m: p["encoder"] for m, p in parts.items()}}
