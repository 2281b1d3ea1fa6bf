"""UniBind: a language-anchored multimodal embedding space with calibrated confidence.

Importing this package is cheap (no torch); the heavy parts load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from unibind.hookspecs import hookimpl
from unibind.specs import (
    AdapterSpec,
    CalibratorSpec,
    DescriptionSourceSpec,
    EncoderSpec,
    ModalitySpec,
    ValidatorSpec,
)

from unibind.version import __version__

__all__ = [
    "AdapterSpec",
    "CalibratorSpec",
    "DescriptionSourceSpec",
    "EncoderSpec",
    "ModalitySpec",
    "Space",
    "ValidatorSpec",
    "__version__",
    "hookimpl",
]

if TYPE_CHECKING:
    from unibind.space import Space


def __getattr__(name: str) -> Any:
    if name == "Space":
        from unibind.space import Space

        return Space
    raise AttributeError(f"module 'unibind' has no attribute {name!r}")
