"""Typed, lazily-imported descriptions of what a plugin provides.

A spec is cheap to create: its heavy parts (the factory that builds an encoder,
the settings model) are named as ``"module:attribute"`` strings and imported
only when someone asks for them. That is what keeps ``unibind list-plugins``
fast and free of torch.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import typing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from unibind.errors import SettingsError, validation_message

if TYPE_CHECKING:
    from pydantic import BaseModel

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"
_NAME = re.compile(NAME_PATTERN)


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


def _doc(text: str, default: Any = dataclasses.MISSING) -> Any:
    """A field with its documentation in ``metadata["doc"]`` (for docs and list-plugins)."""
    return field(default=default, metadata={"doc": text})


def _coerce(cls_name: str, name: str, hint: Any, value: Any) -> Any:
    """Check ``value`` against a field's type; tuples also accept lists (as JSON gives them)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or type(hint).__name__ == "UnionType":
        for option in args:
            try:
                return _coerce(cls_name, name, option, value)
            except ValueError:
                continue
        raise ValueError(f"{cls_name}.{name}: {value!r} is not {_type_name(hint)}")
    if hint is type(None):
        if value is None:
            return None
    elif origin is tuple:
        if isinstance(value, (list, tuple)):
            return tuple(_coerce(cls_name, f"{name}[{i}]", args[0], v) for i, v in enumerate(value))
    elif origin is Literal:
        if value in args:
            return value
    elif hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(hint, type) and isinstance(value, hint):
        return value
    raise ValueError(f"{cls_name}.{name}: {value!r} is not {_type_name(hint)}")


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) is Literal:
        return "one of " + ", ".join(map(repr, typing.get_args(hint)))
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


@dataclass(frozen=True, kw_only=True)
class Spec:
    """Fields every registered component has.

    A frozen dataclass, validated when made (a ``ValueError`` naming the field): no
    pydantic at registration, so ``unibind list-plugins`` starts fast.
    """

    kind: ClassVar[str] = "component"

    name: str = _doc("Name within its kind; 'plugin:name' is always unique.")
    factory: str = _doc("'module:attr' of the callable that builds the component.")
    settings: str | None = _doc("'module:attr' of the pydantic settings model, if any.", None)
    summary: str = _doc("One line for list-plugins.", "")
    plugin: str = _doc("Filled in by the plugin manager.", "")

    def __post_init__(self) -> None:
        hints = _hints(type(self))
        for f in dataclasses.fields(self):
            value = _coerce(type(self).__name__, f.name, hints[f.name], getattr(self, f.name))
            object.__setattr__(self, f.name, value)
        if not _NAME.match(self.name):
            raise ValueError(f"{type(self).__name__}.name: {self.name!r} does not match {NAME_PATTERN!r}")
        try:
            _check_reference(self.factory)
            _check_reference(self.settings)
        except ValueError as exc:
            raise ValueError(f"{type(self).__name__}: {exc}") from None
        self._normalise()

    def _normalise(self) -> None:
        """Subclasses tidy their fields here (after type checks)."""

    @property
    def qualified_name(self) -> str:
        """``plugin:name``: resolves even when another plugin claims the same bare name."""
        return f"{self.plugin}:{self.name}" if self.plugin else self.name

    @property
    def label(self) -> str:
        """How messages name this component: ``encoder 'image:efficientnet-lite0'``."""
        return f"{self.kind} {self.qualified_name!r}"

    def replace(self, **changes: Any) -> Spec:
        """A copy with ``changes`` (validated again)."""
        return dataclasses.replace(self, **changes)

    def settings_model(self) -> type[BaseModel] | None:
        return import_object(self.settings) if self.settings else None

    def make_settings(self, values: BaseModel | dict[str, Any] | None = None) -> BaseModel | None:
        """Validate ``values`` against the settings model (defaults when ``None``)."""
        from pydantic import BaseModel, ValidationError

        model = self.settings_model()
        if model is None:
            if values:
                given = ", ".join(map(str, values)) if isinstance(values, dict) else type(values).__name__
                raise SettingsError(f"{self.label} takes no settings, got {given}")
            return None
        if isinstance(values, model):
            return values
        if isinstance(values, BaseModel):
            values = values.model_dump()
        try:
            return model.model_validate(values or {})
        except ValidationError as exc:
            raise SettingsError(f"invalid settings for {self.label}: {validation_message(exc)}") from exc

    def build(self, settings: BaseModel | dict[str, Any] | None = None, **context: Any) -> Any:
        """Import the factory and call it with validated settings and any context."""
        factory = import_object(self.factory)
        validated = self.make_settings(settings)
        if validated is None:
            return factory(**context)
        return factory(validated, **context)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary, used by list-plugins."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name not in {"factory", "settings", "plugin"}}
        data["kind"] = self.kind
        return data


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


@dataclass(frozen=True, kw_only=True)
class ModalitySpec(Spec):
    """A kind of data: which files it reads and how one file becomes a sample."""

    kind: ClassVar[str] = "modality"
    suffixes: tuple[str, ...] = _doc("File suffixes, e.g. ('.png',).", ())
    media_types: tuple[str, ...] = ()
    templates: str | None = _doc("'module:attr' of its prompt templates (strings with one '{}' for the "
                                 "class name), the 'templates' source's set for this modality.", None)

    def _normalise(self) -> None:
        try:
            _check_reference(self.templates)
        except ValueError as exc:
            raise ValueError(f"ModalitySpec.templates: {exc}") from None
        object.__setattr__(self, "suffixes", tuple(s.lower() if s.startswith(".") else f".{s.lower()}"
                                                   for s in self.suffixes))


@dataclass(frozen=True, kw_only=True)
class _ForModality(Spec):
    default: bool = _doc("Candidate default for its modality.", False)
    priority: int = _doc("Higher wins among defaults.", 0)


@dataclass(frozen=True, kw_only=True)
class EncoderSpec(_ForModality):
    """A frozen (or trainable) encoder of one modality."""

    kind: ClassVar[str] = "encoder"
    modality: str = _doc("The modality it encodes.")
    dim: int | None = _doc("Output dimension; None if set by the model.", None)
    frozen: bool = True
    pretrained: bool = _doc("False: no weights ship, it must be trained.", True)
    weights: str = _doc("Where the weights come from, and their licence.", "")


@dataclass(frozen=True, kw_only=True)
class AdapterSpec(_ForModality):
    """Maps an encoder's features into the language-anchored space."""

    kind: ClassVar[str] = "adapter"
    modalities: tuple[str, ...] = _doc("Empty: any modality.", ())
    trainable: bool = True
    requires: str | None = _doc(
        "An encoder method the adapter needs (e.g. 'imagenet_head'); as a default it is "
        "only chosen for encoders whose method exists and returns something.", None)


@dataclass(frozen=True, kw_only=True)
class DescriptionSourceSpec(Spec):
    """Writes class descriptions or sample captions for the knowledge base."""

    kind: ClassVar[str] = "description_source"
    produces: tuple[Literal["class_descriptions", "sample_captions"], ...] = ("class_descriptions",)
    modalities: tuple[str, ...] = _doc("Captioners: what they describe.", ())
    calls_service: bool = False


@dataclass(frozen=True, kw_only=True)
class CalibratorSpec(Spec):
    """Turns class scores into calibrated probabilities."""

    kind: ClassVar[str] = "calibrator"
    default: bool = False
    priority: int = 0


@dataclass(frozen=True, kw_only=True)
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
