"""What a trained space holds, and whether this installation can use it (``unibind space inspect``).

A space is made on one machine and used on others; before trusting it a user
wants to see its encoders and their identities, its adapters, centres and
calibrators, the knowledge base it came from, and, with the models installed
here, whether every recorded identity still matches. A mismatch is reported
with the command that makes the stale part again, never silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from unibind.errors import UniBindError


class EncoderState(BaseModel):
    """One frozen encoder of the space: recorded identity and (when checked) today's."""

    part: str = Field(description="'text' or a modality.")
    encoder: str
    settings: dict[str, Any] | None = None
    recorded: str | None
    current: str | None = None
    matches: bool | None = Field(default=None, description="None: not checked (or nothing recorded).")
    problem: str | None = None


class AdapterState(BaseModel):
    modality: str
    adapter: str
    file: str | None
    in_dim: int
    out_dim: int
    parameters: int | None = None
    val_accuracy: float | None = None


class CentresState(BaseModel):
    file: str
    method: str
    modality: str
    k: int
    classes: int
    knowledge_base: str | None
    encoder: str | None
    identity: str
    matches: bool | None = None
    rebuild: str | None = None
    problem: str | None = None


class CalibratorState(BaseModel):
    modality: str
    name: str
    file: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    fitted_on: int = 0
    ece_before: float | None = None
    ece_after: float | None = None
    held_out: int | None = Field(default=None, description="Items the ECE was measured on, when not the "
                                 "fitting data.")
    problem: str | None = None


class SpaceInspection(BaseModel):
    """``unibind space inspect --json``."""

    path: str
    made_with: str = Field(description="UniBind version that wrote the space.")
    encoders: list[EncoderState]
    adapters: list[AdapterState]
    centres: list[CentresState]
    calibrators: list[CalibratorState]
    knowledge_base: str | None
    data: str | None
    train_command: str | None
    checked: bool
    usable: bool | None = Field(description="None when not checked.")
    problems: list[str] = Field(default_factory=list)
    remedies: list[str] = Field(default_factory=list)


def inspect_space(space_dir: str | Path, *, registry: Any = None, check: bool = True,
                  settings: dict[str, dict[str, Any]] | None = None) -> SpaceInspection:
    """Read a space directory; with ``check``, load its encoders here and compare identities.

    ``settings`` overrides recorded component settings, as for ``Space.from_dir`` (e.g. where a
    local model lies on this machine).
    """
    from safetensors import safe_open

    from unibind.knowledge.centres import CentreSet
    from unibind.spacedir import read_record

    space_dir = Path(space_dir)
    record = read_record(space_dir)
    encoders = [EncoderState(part="text", encoder=record.text_encoder, settings=record.text_encoder_settings,
                             recorded=record.text_identity)]
    adapters = []
    for m, mod in record.modalities.items():
        encoders.append(EncoderState(part=m, encoder=mod.encoder, settings=mod.encoder_settings,
                                     recorded=mod.feature_identity))
        parameters = None
        if mod.adapter_file and (space_dir / mod.adapter_file).is_file():
            with safe_open(str(space_dir / mod.adapter_file), framework="pt") as fh:
                parameters = sum(_numel(fh.get_slice(key).get_shape()) for key in fh.keys())
        best = (record.metrics.get("history") or [{}])
        epoch = record.metrics.get("best_epoch")
        row = next((h for h in best if h.get("epoch") == epoch), best[-1] if best else {})
        adapters.append(AdapterState(modality=m, adapter=mod.adapter, file=mod.adapter_file, in_dim=mod.in_dim,
                                     out_dim=mod.out_dim, parameters=parameters,
                                     val_accuracy=(row.get("val_accuracy") or {}).get(m)))
    centres = []
    centre_sets = {}
    from unibind.spacedir import centre_files

    for relative in dict.fromkeys(centre_files(record).values()):  # one per modality (older spaces: one for all)
        path = space_dir / relative
        try:
            loaded = CentreSet.load(path)
            centre_sets[relative] = loaded
            meta = loaded.meta
            centres.append(CentresState(file=relative, method=meta.settings.method,
                                        modality=meta.settings.modality, k=meta.settings.k,
                                        classes=len(meta.classes), knowledge_base=meta.knowledge_base,
                                        encoder=meta.encoder.get("encoder"), identity=meta.encoder_hash))
        except UniBindError as exc:
            centres.append(CentresState(file=relative, method="?", modality="?", k=0, classes=0,
                                        knowledge_base=None, encoder=None, identity="?", problem=str(exc)))
    from unibind.calibration.store import calibrator_entries

    # the calibrators folder is what classify applies; space.json's summary may lag behind it
    entries = {**record.calibrators, **calibrator_entries(space_dir)}
    calibrators = [_calibrator(space_dir, m, entry, registry) for m, entry in sorted(entries.items())]
    made_from = record.made_from or {}
    knowledge_base = made_from.get("kb") or next((c.knowledge_base for c in centres if c.knowledge_base), None)
    result = SpaceInspection(path=str(space_dir), made_with=record.unibind_version, encoders=encoders,
                             adapters=adapters, centres=centres, calibrators=calibrators,
                             knowledge_base=knowledge_base, data=made_from.get("data"),
                             train_command=made_from.get("command"), checked=check, usable=None)
    result.problems += [f"{c.file}: {c.problem}" for c in centres if c.problem]
    result.problems += [f"{c.file}: {c.problem}" for c in calibrators if c.problem]
    if check:
        _check(space_dir, record, result, centre_sets, registry, settings)
        result.usable = not result.problems
    return result


def _numel(shape: list[int]) -> int:
    n = 1
    for size in shape:
        n *= int(size)
    return n


def _calibrator(space_dir: Path, modality: str, entry: dict[str, Any], registry: Any) -> CalibratorState:
    from unibind.calibration.store import load_calibrator

    metrics = entry.get("metrics") or {}
    state = CalibratorState(modality=modality, name=entry.get("name", "?"), file=entry.get("file", "?"),
                            ece_before=(metrics.get("before") or {}).get("ece"),
                            ece_after=(metrics.get("after") or {}).get("ece"), held_out=metrics.get("held_out"))
    try:
        fitted = load_calibrator(space_dir / state.file, registry)
    except UniBindError as exc:
        state.problem = str(exc)
        return state
    state.fitted_on = fitted.record.fitted_on
    calibrator = fitted.calibrator
    if isinstance(getattr(calibrator, "temperature", None), (int, float)):
        state.parameters["temperature"] = float(calibrator.temperature)
    for name, tensor in calibrator.state_dict().items():
        state.parameters.setdefault(name, tensor.tolist() if tensor.numel() <= 4 else f"{list(tensor.shape)} tensor")
    return state


def _check(space_dir: Path, record: Any, result: SpaceInspection, centre_sets: dict[str, Any], registry: Any,
           settings: dict[str, dict[str, Any]] | None) -> None:
    """Build the encoders named by the space here and compare what they are with what it recorded."""
    from unibind.space import Space
    from unibind.spacedir import Stale, feature_identity, stale_error, text_identity

    try:
        space = Space.from_dir(space_dir, registry=registry, settings=settings)
    except UniBindError as exc:
        result.problems.append(str(exc))
        return
    space.record = None  # compare here instead of refusing at the first mismatch
    stale_space = False
    for state in result.encoders:
        try:
            state.current = text_identity(space) if state.part == "text" else feature_identity(space, state.part)
        except UniBindError as exc:
            state.problem = str(exc)
            result.problems.append(f"{state.part} encoder {state.encoder!r}: {exc}")
            continue
        if state.recorded is None:
            continue
        state.matches = state.current == state.recorded
        if not state.matches:
            stale_space = True
            stale = Stale(state.part, state.encoder, state.recorded, state.current)
            result.problems.append(f"stale: {stale.describe()}")
    if stale_space:
        message = str(stale_error(space_dir, record, Stale("text", "", "", "")))
        result.remedies.append(message.split(", so ", 1)[-1])
    text = next(s for s in result.encoders if s.part == "text")
    for state in result.centres:
        loaded = centre_sets.get(state.file)
        if loaded is None or text.current is None:
            continue
        state.matches = state.identity == text.current
        if not state.matches:
            state.rebuild = loaded.rebuild_command()
            result.problems.append(f"stale: {state.file} was made with text encoder identity {state.identity}, "
                                   f"this installation's is {text.current}")
            if not stale_space:  # only the centres changed: remaking them is enough
                result.remedies.append(f"rebuild the centres with `{state.rebuild}`")


def format_inspection(found: SpaceInspection) -> str:
    """The human-readable form: short sections, aligned, one fact a line."""
    lines = [f"space {found.path} (made with unibind {found.made_with})"]
    if found.data or found.knowledge_base:
        lines.append(f"  made from      data {found.data or '?'}; knowledge base {found.knowledge_base or 'none'}")
    lines.append("encoders")
    for e in found.encoders:
        mark = {True: "matches this installation", False: "STALE (differs here)", None: "not checked"}[e.matches]
        if e.problem:
            mark = f"cannot load here: {e.problem}"
        settings = f" {e.settings}" if e.settings else ""
        lines.append(f"  {e.part:<8} {e.encoder}{settings}")
        lines.append(f"  {'':<8} identity {e.recorded or 'not recorded'}: {mark}")
    lines.append("adapters")
    for a in found.adapters:
        extra = f", {a.parameters:,} parameters" if a.parameters is not None else ""
        acc = f", val top-1 {a.val_accuracy:.3f}" if a.val_accuracy is not None else ""
        lines.append(f"  {a.modality:<8} {a.adapter} {a.in_dim} -> {a.out_dim}{extra}{acc} ({a.file or 'untrained'})")
    lines.append("centres" + ("" if found.centres else "  none (class centres from prompt templates)"))
    for c in found.centres:
        if c.problem:
            lines.append(f"  {c.file}: {c.problem}")
            continue
        k = f", k {c.k}" if c.method == "ecl" else ""
        mark = {True: "matches", False: "STALE", None: "not checked"}[c.matches]
        lines.append(f"  {c.file}  {c.method}{k}, {c.classes} classes, {c.modality} prompts")
        lines.append(f"  {'':<8} text identity {c.identity}: {mark}")
    lines.append("calibrators" + ("" if found.calibrators else "  none (probabilities are uncalibrated; "
                                   "fit one with `unibind calibrate fit`)"))
    for cal in found.calibrators:
        params = ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                           for k, v in cal.parameters.items() if k != "log_temperature")
        ece = ""
        if cal.ece_before is not None and cal.ece_after is not None:
            where = (f"on {cal.held_out} held-out items" if cal.held_out
                     else "on the fitting data; measure held-out with `unibind calibrate report`")
            ece = f"; ECE {cal.ece_before:.3f} -> {cal.ece_after:.3f} ({where})"
        lines.append(f"  {cal.modality:<8} {cal.name} ({params or 'no parameters'}), fitted on {cal.fitted_on}{ece}")
    if not found.checked:
        lines.append("usable here: not checked (run without --no-check to load the encoders and compare)")
    elif found.usable:
        lines.append("usable here: yes, every recorded identity matches the models installed here")
    else:
        lines.append("usable here: NO")
        lines += [f"  {p}" for p in found.problems]
        lines += [f"  fix: {r}" for r in found.remedies]
    return "\n".join(lines)
