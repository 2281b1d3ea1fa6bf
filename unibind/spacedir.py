"""A trained space on disk: ``SPACE/space.json`` plus adapters, centres and calibrators beside it.

Layout (each file written atomically)::

    SPACE/space.json                     what the space is made of (SpaceRecord, pydantic)
    SPACE/adapters/<modality>.safetensors  trained adapter; metadata in the header and a sibling .json
    SPACE/centres.safetensors            ECL centres (unibind.knowledge.centres.CentreSet)
    SPACE/calibrators/<modality>.*       fitted calibrators (written by the calibration code)

``load_space_dir`` (also ``Space.from_dir``) rebuilds a :class:`~unibind.space.Space`
that uses the recorded encoders and the trained adapters; an adapter file
saved for another encoder is refused with an error naming the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, ValidationError

from unibind.version import __version__
from unibind.atomic import atomic_open
from unibind.errors import InputError

if TYPE_CHECKING:
    from unibind.space import Space

FORMAT = "unibind-space"
FORMAT_VERSION = 1
RECORD = "space.json"
ADAPTERS = "adapters"
CENTRES = "centres.safetensors"


class ModalityRecord(BaseModel):
    """One modality of a space: its frozen encoder and its (trained) adapter."""

    encoder: str
    encoder_settings: dict[str, Any] | None = None
    adapter: str
    adapter_settings: dict[str, Any] | None = None
    adapter_file: str | None = Field(default=None, description="Relative to the space directory; None: untrained.")
    in_dim: int
    out_dim: int
    feature_identity: str | None = Field(default=None, description="Feature-cache identity hash of the encoder.")


class SpaceRecord(BaseModel):
    """``space.json``."""

    format: Literal["unibind-space"] = FORMAT
    version: int = FORMAT_VERSION
    unibind_version: str = __version__
    text_encoder: str
    text_encoder_settings: dict[str, Any] | None = None
    text_identity: str = Field(description="Identity hash of the text side (unibind.knowledge.textcache).")
    modalities: dict[str, ModalityRecord]
    centres: str | None = Field(default=None, description="Centres file, relative to the space directory.")
    calibrators: dict[str, dict[str, Any]] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)


def write_record(space_dir: str | Path, record: SpaceRecord) -> Path:
    path = Path(space_dir) / RECORD
    with atomic_open(path) as fh:
        fh.write(record.model_dump_json(indent=2))
    return path


def read_record(space_dir: str | Path) -> SpaceRecord:
    path = Path(space_dir) / RECORD
    if not path.is_file():
        raise InputError(space_dir, f"not a space directory: no {RECORD} (train one with `unibind train`)")
    try:
        return SpaceRecord.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        raise InputError(path, f"invalid space record: {exc}") from exc


def save_adapter(space_dir: str | Path, modality: str, adapter: Any, *, encoder: str,
                 data_hash: str, metrics: dict[str, Any] | None = None) -> str:
    """Write ``adapters/<modality>.safetensors`` and its sibling ``.json``; returns the relative path."""
    relative = f"{ADAPTERS}/{modality}.safetensors"
    extra = {"modality": modality, "encoder": encoder, "data_hash": data_hash, "metrics": metrics or {}}
    adapter.save(Path(space_dir) / relative, **extra)
    with atomic_open(Path(space_dir) / ADAPTERS / f"{modality}.json") as fh:
        json.dump({**adapter.metadata(), **extra}, fh, indent=2, default=str)
    return relative


@dataclass
class TrainedAdapter:
    """How to rebuild a trained adapter: its registered name, settings and weights file."""

    modality: str
    adapter: str
    settings: dict[str, Any] | None
    path: Path
    encoder: str

    def build(self, registry: Any, encoder_name: str, encoder: Any, text_encoder: Any) -> tuple[Any, Any]:
        """``(spec, adapter)`` with the trained weights; refuses a different encoder."""
        if encoder_name != self.encoder:
            raise InputError(self.path, f"adapter was trained on encoder {self.encoder!r}, "
                             f"but the {self.modality} encoder here is {encoder_name!r}")
        spec = registry.get("adapter", self.adapter)
        settings = dict(self.settings or {})
        if "init" in settings:  # the weights replace any initialisation: skip costly ones
            settings["init"] = "zeros"
        adapter = spec.build(settings, encoder=encoder, text_encoder=text_encoder,
                             in_dim=encoder.dim, out_dim=text_encoder.dim)
        load_adapter_weights(adapter, self.path, encoder=encoder_name, in_dim=int(encoder.dim))
        adapter.eval()
        return spec, adapter


def load_adapter_weights(adapter: Any, path: str | Path, *, encoder: str, in_dim: int) -> dict[str, Any]:
    """Load trained weights, refusing a file saved for another encoder or dimension."""
    meta = adapter.load_weights(path, expect={"encoder": encoder, "in_dim": in_dim})
    if "encoder" not in meta:
        raise InputError(path, "adapter file does not say which encoder it was trained on")
    return meta


def load_space_dir(space_dir: str | Path, *, space_class: type[Space], registry: Any = None,
                   **space_kwargs: Any) -> Space:
    """A ``space_class`` (:class:`~unibind.space.Space`, via ``Space.from_dir``) with the recorded
    encoders, trained adapters and centres. Handed the class so this module stays below ``space``."""
    space_dir = Path(space_dir)
    record = read_record(space_dir)
    settings: dict[str, dict[str, Any]] = {}
    if record.text_encoder_settings:
        settings[record.text_encoder] = record.text_encoder_settings
    for mod in record.modalities.values():
        if mod.encoder_settings:
            settings[mod.encoder] = mod.encoder_settings
    settings.update(space_kwargs.pop("settings", None) or {})
    centres = space_dir / record.centres if record.centres else None
    if centres is not None and not centres.is_file():
        raise InputError(centres, "centres file named in space.json is missing")
    space = space_class(registry=registry, text_encoder=record.text_encoder,
                  encoders={m: r.encoder for m, r in record.modalities.items()},
                  settings=settings, centres=space_kwargs.pop("centres", centres), **space_kwargs)
    for modality, mod in record.modalities.items():
        if mod.adapter_file is None:
            continue
        path = space_dir / mod.adapter_file
        if not path.is_file():
            raise InputError(path, f"adapter file of {modality} named in space.json is missing")
        space.trained_adapters[modality] = TrainedAdapter(modality, mod.adapter, mod.adapter_settings, path,
                                                          mod.encoder)
    space.space_dir = space_dir
    space.record = record
    return space
