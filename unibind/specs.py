"""Typed, lazily-imported descriptions of what a plugin provides.

A spec is cheap to create: its heavy parts (the factory that builds an encoder,
the settings model) are named as ``"module:attribute"`` strings and imported
only when someone asks for them. That is what keeps ``unibind list-plugins``
fast and free of torch.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from unibind.errors import SettingsError, validation_message

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"


def import_object(reference: str) -> Any:
    """Import ``"package.module:attr.sub"`` and return the attribute."""
    module_name, _, attr_path = reference.partition(":")
    if not module_name or not attr_path:
        raise ValueError(f"expected 'module:attribute', got {reference!r}")
    obj: Any = importlib.import_module(module_name)
    for part in attr_path.split("."):
        obj = getattr(obj, part)
    return obj


def _check_reference(value: str | None) -> str | None:
    if value is not None and (":" not in value or value.startswith(":") or value.endswith(":")):
        raise ValueError(f"expected 'module:attribute', got {value!r}")
    return value


class Spec(BaseModel):
    """Fields every registered component has."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: ClassVar[str] = "component"

    name: str = Field(pattern=NAME_PATTERN, description="Unique name within its kind.")
    factory: str = Field(description="'module:attr' of the callable that builds the component.")
    settings: str | None = Field(
        default=None, description="'module:attr' of the pydantic settings model, if any."
    )
    summary: str = Field(default="", description="One line for list-plugins.")
    plugin: str = Field(default="", description="Filled in by the plugin manager.")

    _check_factory = field_validator("factory")(_check_reference)
    _check_settings = field_validator("settings")(_check_reference)

    @property
    def qualified_name(self) -> str:
        return f"{self.kind}:{self.name}"

    def settings_model(self) -> type[BaseModel] | None:
        return import_object(self.settings) if self.settings else None

    def make_settings(self, values: BaseModel | dict[str, Any] | None = None) -> BaseModel | None:
        """Validate ``values`` against the settings model (defaults when ``None``)."""
        model = self.settings_model()
        if model is None:
            if values:
                given = ", ".join(map(str, values)) if isinstance(values, dict) else type(values).__name__
                raise SettingsError(f"{self.qualified_name} takes no settings, got {given}")
            return None
        if isinstance(values, model):
            return values
        if isinstance(values, BaseModel):
            values = values.model_dump()
        try:
            return model.model_validate(values or {})
        except ValidationError as exc:
            raise SettingsError(f"invalid settings for {self.qualified_name}: {validation_message(exc)}") from exc

    def build(self, settings: BaseModel | dict[str, Any] | None = None, **context: Any) -> Any:
        """Import the factory and call it with validated settings and any context."""
        factory = import_object(self.factory)
        validated = self.make_settings(settings)
        if validated is None:
            return factory(**context)
        return factory(validated, **context)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary, used by list-plugins."""
        data = self.model_dump(exclude={"factory", "settings", "plugin"})
        data["kind"] = self.kind
        return data


class ModalitySpec(Spec):
    """A kind of data: which files it reads and how one file becomes a sample."""

    kind: ClassVar[str] = "modality"
    suffixes: tuple[str, ...] = Field(default=(), description="File suffixes, e.g. ('.png',).")
    media_types: tuple[str, ...] = ()

    @field_validator("suffixes")
    @classmethod
    def _lower_dotted(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(s.lower() if s.startswith(".") else f".{s.lower()}" for s in value)


class _ForModality(Spec):
    default: bool = Field(default=False, description="Candidate default for its modality.")
    priority: int = Field(default=0, description="Higher wins among defaults.")


class EncoderSpec(_ForModality):
    """A frozen (or trainable) encoder of one modality."""

    kind: ClassVar[str] = "encoder"
    modality: str
    dim: int | None = Field(default=None, description="Output dimension; None if set by the model.")
    frozen: bool = True
    pretrained: bool = Field(default=True, description="False: no weights ship, it must be trained.")
    weights: str = Field(default="", description="Where the weights come from, and their licence.")


class AdapterSpec(_ForModality):
    """Maps an encoder's features into the language-anchored space."""

    kind: ClassVar[str] = "adapter"
    modalities: tuple[str, ...] = Field(default=(), description="Empty: any modality.")
    trainable: bool = True
    requires: str | None = Field(
        default=None,
        description="An encoder method the adapter needs (e.g. 'imagenet_head'); as a default it is "
                    "only chosen for encoders whose method exists and returns something.",
    )


class DescriptionSourceSpec(Spec):
    """Writes class descriptions or sample captions for the knowledge base."""

    kind: ClassVar[str] = "description_source"
    produces: tuple[Literal["class_descriptions", "sample_captions"], ...] = ("class_descriptions",)
    modalities: tuple[str, ...] = Field(default=(), description="Captioners: what they describe.")
    calls_service: bool = False


class CalibratorSpec(Spec):
    """Turns class scores into calibrated probabilities."""

    kind: ClassVar[str] = "calibrator"
    default: bool = False
    priority: int = 0


class ValidatorSpec(Spec):
    """Re-checks a low-confidence prediction."""

    kind: ClassVar[str] = "validator"


SPEC_TYPES: dict[str, type[Spec]] = {
    t.kind: t
    for t in (ModalitySpec, EncoderSpec, AdapterSpec, DescriptionSourceSpec, CalibratorSpec, ValidatorSpec)
}

#: Which hook registers which kind of spec.
HOOK_KINDS: dict[str, str] = {
    "unibind_modalities": "modality",
    "unibind_encoders": "encoder",
    "unibind_adapters": "adapter",
    "unibind_description_sources": "description_source",
    "unibind_calibrators": "calibrator",
    "unibind_validators": "validator",
}
