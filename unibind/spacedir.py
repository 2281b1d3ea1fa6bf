"""A trained space on disk: ``SPACE/space.json`` plus adapters, centres and calibrators beside it.

Layout (each file written atomically)::

    SPACE/space.json                     what the space is made of (SpaceRecord, pydantic), including each
                                         modality's calibrated stacking (trained classes, gamma)
    SPACE/adapters/<modality>.safetensors  trained adapter; metadata in the header and a sibling .json
    SPACE/centres/<modality>.safetensors class centres of each modality (unibind.knowledge.centres.CentreSet),
                                         from that modality's canonical prompt and descriptions
    SPACE/centres.safetensors            spaces trained before per-modality centres: one set for all
    SPACE/means.safetensors              per-modality means subtracted before normalising (unibind.centring;
                                         only with `train --centre-modalities`)
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
from unibind.identity import identity_hash

if TYPE_CHECKING:
    from unibind.space import Space

FORMAT = "unibind-space"
FORMAT_VERSION = 1
RECORD = "space.json"
ADAPTERS = "adapters"
CENTRES = "centres.safetensors"  # the one set of spaces trained before per-modality centres
CENTRES_DIR = "centres"


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


class StackingRecord(BaseModel):
    """Calibrated stacking of one modality (Chao et al. 2016): ``gamma`` is subtracted from the cosine
    score of every class in ``seen`` at classify time, so classes never trained on are not crowded out.
    ``gamma`` was chosen without any unseen class's data (see :mod:`unibind.training.stacking`)."""

    seen: list[str] = Field(description="Classes this modality's adapter was trained on.")
    gamma: float = Field(ge=0, description="Subtracted from the seen classes' cosine scores.")
    fitted: dict[str, Any] = Field(default_factory=dict, description="How gamma was chosen: the pseudo-unseen "
                                   "classes held out of a second training run, item counts, H before/after.")


class SpaceRecord(BaseModel):
    """``space.json``."""

    format: Literal["unibind-space"] = FORMAT
    version: int = FORMAT_VERSION
    unibind_version: str = __version__
    text_encoder: str
    text_encoder_settings: dict[str, Any] | None = None
    text_identity: str = Field(description="Identity hash of the text side (unibind.knowledge.textcache).")
    modalities: dict[str, ModalityRecord]
    centres: str | None = Field(default=None, description="Older spaces: one centres file for every modality "
                                "(read when modality_centres is empty).")
    modality_centres: dict[str, str] = Field(default_factory=dict, description="Modality -> its centres file, "
                                             "relative to the space directory.")
    means: str | None = Field(default=None, description="Per-modality means subtracted before normalising "
                              "(unibind.centring), relative to the space directory; None: no centring.")
    calibrators: dict[str, dict[str, Any]] = Field(default_factory=dict)
    stacking: dict[str, StackingRecord] = Field(default_factory=dict, description="Modality -> its calibrated "
                                                "stacking; empty (older spaces, `train --no-stacking`): none.")
    metrics: dict[str, Any] = Field(default_factory=dict)
    made_from: dict[str, Any] | None = Field(default=None, description="Training data, knowledge base and the "
                                             "`unibind train` command that makes this space again.")
    files: dict[str, str] = Field(default_factory=dict, description="Relative path -> SHA-256 of every file the "
                                  "training run wrote beside this record; checked on load, so a folder mixing two "
                                  "runs' files (a train writing it now, files copied in) is refused, not used. "
                                  "Empty in older spaces: not checked.")


def centre_files(record: SpaceRecord) -> dict[str | None, str]:
    """Modality -> centres file; an older space's one set for every modality is filed under None."""
    if record.modality_centres:
        return dict(record.modality_centres)
    return {None: record.centres} if record.centres else {}


def stale_centres(space: Any) -> list[str]:
    """One sentence per saved centre set whose knowledge base (or template set) changed since it was made.

    The saved centres are still what the space classifies with (one source of truth); this says so.
    """
    from unibind.knowledge.centres import CentreSet, stale_classes

    centres = getattr(space, "centres", None)
    files = centres if isinstance(centres, dict) else ({None: centres} if centres is not None else {})
    out = []
    for found in files.values():
        try:
            loaded = found if isinstance(found, CentreSet) else CentreSet.load(found)
            stale = stale_classes(loaded)
        except InputError:  # an unreadable knowledge base cannot tell; classifying does not need it
            continue
        if stale:
            out.append(f"{loaded.path or 'centres'}: stale for {len(stale)} of {len(loaded.labels)} classes "
                       f"({', '.join(stale[:5])}{' ...' if len(stale) > 5 else ''}): "
                       f"{loaded.meta.knowledge_base or 'the template set'} changed since the space was trained; "
                       "its saved centres are used (train again to use what it holds now)")
    return out


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
    #: the space folder and record it came from: the weights are checked against the record after reading
    space_dir: Path | None = None
    record: SpaceRecord | None = None

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
        check_written_file(self.space_dir, self.record, self.path)
        adapter.eval()
        return spec, adapter


def load_adapter_weights(adapter: Any, path: str | Path, *, encoder: str, in_dim: int) -> dict[str, Any]:
    """Load trained weights, refusing a file saved for another encoder or dimension."""
    meta = adapter.load_weights(path, expect={"encoder": encoder, "in_dim": in_dim})
    if "encoder" not in meta:
        raise InputError(path, "adapter file does not say which encoder it was trained on")
    return meta


def inside(space_dir: Path, relative: str, what: str) -> Path:
    """``space_dir / relative``, refused unless it stays inside the space directory (symlinks resolved).

    A space is a self-contained folder: a path in ``space.json`` that climbs out of it
    (``../x``, an absolute path, a symlink to elsewhere) would load a file nobody trained with it.
    """
    path = space_dir / relative
    root = space_dir.resolve()
    if Path(relative).is_absolute() or not path.resolve().is_relative_to(root):
        raise InputError(space_dir / RECORD, f"{what} {relative!r} is outside the space directory "
                         f"{space_dir}; paths in {RECORD} must stay inside it")
    return path


def text_identity(space: Any) -> str:
    """Identity hash of a space's text side today (content of its files, settings, text adapter)."""
    from unibind.identity import space_text_identity

    return identity_hash(space_text_identity(space, centred=False))


def feature_identity(space: Any, modality: str) -> str:
    """Identity hash of ``modality``'s frozen encoder today, exactly as the feature cache and training
    record it (built from the space's own pipeline, so no model is loaded twice). Content only."""
    from unibind.features.extract import FrozenEncoder

    return identity_hash(FrozenEncoder.from_space(space, modality).identity)


@dataclass
class Stale:
    """One part of a space this installation's models no longer match."""

    part: str  # "text" or a modality
    encoder: str
    recorded: str
    current: str

    def describe(self) -> str:
        side = "text encoder" if self.part == "text" else f"{self.part} encoder"
        return (f"its {side} {self.encoder!r} had identity {self.recorded}, this installation's has "
                f"{self.current} (different weights or settings)")


def check_part(space: Any, part: str) -> Stale | None:
    """Compare one part of a loaded space with what it recorded; None when it matches or recorded nothing."""
    record = getattr(space, "record", None)
    if record is None:
        return None
    if part == "text":
        recorded, encoder, current = record.text_identity, record.text_encoder, text_identity
    else:
        mod = record.modalities.get(part)
        if mod is None or mod.feature_identity is None:
            return None
        recorded, encoder, current = mod.feature_identity, mod.encoder, lambda s: feature_identity(s, part)
    now = current(space)
    return None if now == recorded else Stale(part, encoder, recorded, now)


def stale_error(space_dir: str | Path, record: SpaceRecord, stale: Stale) -> InputError:
    """Refuse a stale space: what differs, and the command that trains it again."""
    command = (record.made_from or {}).get("command")
    remedy = (f"train it again with `{command}`" if command
              else "train it again with `unibind train` on the data it was made from")
    settings = {name: value for name, value in [(record.text_encoder, record.text_encoder_settings)] +
                [(m.encoder, m.encoder_settings) for m in record.modalities.values()] if value}
    if command and settings:
        remedy += f" (with the component settings it recorded: {json.dumps(settings, default=str)})"
    return InputError(Path(space_dir) / RECORD, f"this space is stale: {stale.describe()}; its adapters and "
                      f"centres were made for the old one, so {remedy}")


def _check_local_paths(space_dir: Path, settings: dict[str, dict[str, Any]]) -> None:
    """A recorded local model folder missing here is named, not passed on to fail somewhere deep."""
    import os

    for component, values in settings.items():
        for key, value in (values or {}).items():
            if isinstance(value, str) and os.path.isabs(value) and not os.path.exists(value):
                raise InputError(Path(space_dir) / RECORD, f"{component} setting {key}={value!r} names a path that "
                                 f"does not exist on this machine; install the same files and pass their place "
                                 f"(Space.from_dir(..., settings={{{component!r}: {{{key!r}: PATH}}}}))")


def written_files(space_dir: Path, relatives: list[str]) -> dict[str, str]:
    """``SpaceRecord.files`` for the files a training run just wrote."""
    from unibind.identity import file_digest

    return {relative: file_digest(space_dir / relative) for relative in sorted(relatives)}


def check_written_files(space_dir: Path, record: SpaceRecord) -> None:
    """Refuse a space whose files are not the ones its ``space.json`` was written with."""
    for relative, digest in record.files.items():
        path = inside(space_dir, relative, "file")
        if not path.is_file():
            raise InputError(path, f"named in {RECORD} but missing")
        check_written_file(space_dir, record, path)


def check_written_file(space_dir: Path | None, record: SpaceRecord | None, path: Path) -> None:
    """Refuse ``path`` if it is not the file ``record`` says was written there.

    Called again *after* a recorded file was read (adapters and centres are read lazily): a train that
    replaced it between :func:`check_written_files` and that read is caught, not loaded. Readers take no
    lock, so this second look is what keeps them from mixing two runs' files.
    """
    from unibind.identity import file_digest

    if space_dir is None or record is None:
        return
    try:
        relative = Path(path).resolve().relative_to(Path(space_dir).resolve()).as_posix()
    except ValueError:
        return
    digest = record.files.get(relative)
    if digest is not None and file_digest(path) != digest:
        raise InputError(path, f"is not the file {RECORD} was written with: it changed afterwards (a train "
                         f"into {space_dir} may be writing it now, or it was copied in from another space); "
                         "wait for that train and retry, or train this space again")


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
    _check_local_paths(space_dir, settings)
    check_written_files(space_dir, record)
    files: dict[str | None, Path] = {}
    for modality, relative in centre_files(record).items():
        files[modality] = inside(space_dir, relative, "centres file")
        if not files[modality].is_file():
            raise InputError(files[modality], "centres file named in space.json is missing")
    # one set per modality (a mapping), or an older space's one set for all
    centres: Any = files.get(None) if None in files else (files or None)
    space = space_class(registry=registry, text_encoder=record.text_encoder,
                        encoders={m: r.encoder for m, r in record.modalities.items()},
                        settings=settings, centres=space_kwargs.pop("centres", centres), **space_kwargs)
    for modality, mod in record.modalities.items():
        if mod.adapter_file is None:
            continue
        path = inside(space_dir, mod.adapter_file, f"adapter file of {modality}")
        if not path.is_file():
            raise InputError(path, f"adapter file of {modality} named in space.json is missing")
        space.trained_adapters[modality] = TrainedAdapter(modality, mod.adapter, mod.adapter_settings, path,
                                                          mod.encoder, space_dir, record)
    if record.means:
        from unibind.centring import load_means

        dims = {r.out_dim for r in record.modalities.values()}
        means_file = inside(space_dir, record.means, "means file")
        space.modality_means = load_means(means_file, dims.pop() if len(dims) == 1 else None)
        check_written_file(space_dir, record, means_file)
    space.space_dir = space_dir
    space.record = record
    return space
