"""Calibrators that ship with the embedded default: one temperature per modality, fitted on real data.

Temperature scaling has one parameter that does not depend on the labels asked for, so a
temperature fitted on one real label set applies to any label set (how well it carries over is
measured on a real set it was not fitted on, and recorded). Calibrators tied to the classes they
were fitted on (vector, isotonic) cannot be defaults. A shipped calibrator applies only to the
space it was fitted with: the same encoder, text encoder and logit scale, the default adapter and
prompt-template centres built from the same template set (its texts' digest is recorded: a temperature
fitted on the mean of other templates is fitted to other scores); anything else is reported as uncalibrated.

Files: ``unibind/calibration/defaults/<modality>.safetensors`` + ``.json`` (the record, with
``provenance``), written by ``scripts/fit_default_calibrators.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from unibind.calibration.store import FittedCalibrator, load_calibrator
from unibind.errors import NotRegisteredError

DEFAULTS_DIR = Path(__file__).with_name("defaults")

#: Thresholds the fallback's cut is fitted at besides the chosen one (classify --threshold uses the fitted cut there).
FALLBACK_GRID: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9)


def template_fingerprint(space: Any, modality: str) -> dict[str, Any]:
    """The prompt-template set the space's centres for ``modality`` are the mean of: its size and the digest of its
    texts (:func:`unibind.knowledge.centres.texts_digest`, order-free like the mean)."""
    from unibind.knowledge.centres import texts_digest

    templates = space.registry.get("description_source", "templates").build().templates(modality)
    return {"count": len(templates), "digest": texts_digest(templates)}


def space_identity(space: Any, modality: str) -> dict[str, Any]:
    """What a default calibrator must match: encoder and text encoder references, the logit scale and the
    prompt-template set of the centres.

    Read from the registry's choices, without loading a model.
    """
    encoder = space._pick("encoder", modality, space.encoder_choice)
    text = space._pick("encoder", "text", space.encoder_choice)
    return {"encoder": space.registry.reference(encoder), "text_encoder": space.registry.reference(text),
            "logit_scale": float(space.logit_scale), "templates": template_fingerprint(space, modality)}


def why_not_default(space: Any, record_identity: Mapping[str, Any], modality: str, centres: Any = None) -> str | None:
    """None when a default calibrator fitted with ``record_identity`` applies to ``space``, else why not."""
    if getattr(space, "record", None) is not None or space.trained_adapters:
        return "a trained space (fit its own with `unibind calibrate fit`)"
    if modality in space.adapter_choice:
        return f"adapter {space.adapter_choice[modality]!r} is not the default one it was fitted with"
    if centres is not None or getattr(space, "centres", None) is not None:
        return "knowledge-base centres (it was fitted on prompt-template centres)"
    mine = space_identity(space, modality)
    for key, value in record_identity.items():
        if key != "templates" and key in mine and mine[key] != value:
            return f"{key} {mine[key]!r} differs from the {value!r} it was fitted with"
    fitted_templates = record_identity.get("templates")
    if fitted_templates is None:
        return f"it does not record the {modality} prompt-template set it was fitted with (refit it)"
    if fitted_templates != mine["templates"]:
        return (f"the {modality} prompt templates ({mine['templates']['count']}, digest "
                f"{mine['templates']['digest']}) differ from the set it was fitted with "
                f"({fitted_templates.get('count')}, digest {fitted_templates.get('digest')}): refit it with "
                "scripts/fit_default_calibrators.py")
    return None


def default_calibrators(space: Any, *, centres: Any = None,
                        folder: Path | None = None) -> tuple[dict[str, FittedCalibrator], dict[str, str]]:
    """(modality -> shipped calibrator that applies to ``space``, modality -> why a shipped one does not)."""
    found: dict[str, FittedCalibrator] = {}
    refused: dict[str, str] = {}
    for path in sorted((folder or DEFAULTS_DIR).glob("*.safetensors")):
        fitted = load_calibrator(path, space.registry)
        modality = fitted.record.modality
        if modality not in {s.name for s in space.registry.by_kind("modality")}:
            continue     # its plugin is not installed
        try:
            why = why_not_default(space, fitted.record.provenance.get("space", {}), modality, centres)
        except NotRegisteredError as exc:    # no encoder for it installed: nothing to calibrate
            why = str(exc)
        if why is None:
            found[modality] = fitted
        else:
            refused[modality] = why
    return found, refused


def describe(fitted: FittedCalibrator) -> str:
    """Where a calibrator comes from, in a few words (what ``classify`` prints)."""
    p = fitted.record.provenance
    if not p.get("dataset"):
        return "the space's fitted calibrator"
    held = p.get("held_out", {})
    ece = f", held-out ECE {held['before']['ece']:.3f} -> {held['after']['ece']:.3f}" if "before" in held else ""
    return (f"default calibrator fitted on {p['dataset']} ({p.get('calibration_count', '?')} files{ece}; "
            f"temperature {p.get('temperature', float('nan')):.2f})")


def fitted_entry(record: Any, threshold: float) -> dict[str, Any] | None:
    """The fallback entry fitted with ``record`` at ``threshold`` (its chosen one or one of its grid), or None.

    Records written before the grid hold the chosen threshold's entry only; they load the same way.
    """
    import math

    chosen = record.provenance.get("fallback") if record is not None else None
    if not chosen:
        return None
    for entry in [chosen, *chosen.get("grid", [])]:
        if math.isclose(entry["threshold"], threshold, abs_tol=1e-9):
            return entry
    return None


def fitted_thresholds(record: Any) -> list[float]:
    """Every threshold ``record`` has a fitted fallback cut for, ascending."""
    chosen = record.provenance.get("fallback") if record is not None else None
    if not chosen:
        return []
    return sorted({float(e["threshold"]) for e in [chosen, *chosen.get("grid", [])]})


def fallback_for(space: Any, fitted: Any, threshold: float, validators: list[str] | None = None) -> Any:
    """The fallback that runs on ``fitted``-calibrated probabilities (what ``classify`` uses).

    The yes/no check's softmax is put on the same footing as the calibrated class probabilities
    (scale / T), and the cut fitted with the calibrator at ``threshold`` (on its calibration files) is used.
    ``fallback.fitted`` says whether there was one; without, the unfitted cut (``min_support``) applies.
    """
    from unibind.validation.base import Fallback, FallbackSettings

    settings = FallbackSettings(threshold=threshold, validators=validators)
    calibrator = getattr(fitted, "calibrator", fitted)
    temperature = getattr(calibrator, "temperature", None)
    if temperature:
        settings.settings["yes-no"] = {"scale": space.logit_scale / temperature}
    fallback = Fallback(settings, registry=space.registry)
    fitted_cut = fitted_entry(getattr(fitted, "record", None), threshold)
    fallback.fitted = fitted_cut is not None
    if fitted_cut is not None:
        # None: no cut reached the target on the calibration part, so nothing is verified
        fallback.cut = float("inf") if fitted_cut["cut"] is None else float(fitted_cut["cut"])
        fallback.revise = bool(fitted_cut["revise"])
    return fallback


def fit_fallback(space: Any, fitted: Any, threshold: float, *, modality: str, labels: list[str], sources: list[str],
                 probs: Any, vectors: Any, truth: list[int], centre_set: Any = None,
                 scores: Any = None) -> dict[str, Any]:
    """Fit the fallback's cut and revise choice for ``fitted`` on labelled items; returns the record entry
    (``provenance["fallback"]``) that :func:`fallback_for` applies, for shipped and users' calibrators alike.

    The entry is for ``threshold``; its ``grid`` holds the same fit at each of :data:`FALLBACK_GRID` (the
    validators run once per item), so ``classify --threshold`` at any of them uses a fitted cut too.
    ``probs`` are ``fitted``'s calibrated probabilities of the items, ``truth`` their class indices and
    ``scores`` the scores classify ranks them by (equal probabilities by score, as classify names the label).
    """
    import math

    from unibind.validation.base import class_texts, ranked_cases

    fallback = fallback_for(space, fitted, threshold)
    cases = ranked_cases(sources, modality, labels, probs, vectors, scores)
    grid = sorted({float(threshold), *FALLBACK_GRID})
    fits = fallback.fit_thresholds(cases, class_texts(space, labels, modality, centre_set), space, list(truth), grid)

    def entry(at: float) -> dict[str, Any]:
        stats = fits[at]
        finite = {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in stats.items()}
        return {"threshold": at, "cut": finite["cut"], "revise": stats["revise"], "fitted": finite}

    return {**entry(float(threshold)), "grid": [entry(at) for at in grid]}


def adds_nothing(entry: dict[str, Any] | None) -> bool:
    """A fitted entry that verifies nothing and keeps no revision: its validators cannot change an answer."""
    return entry is not None and entry["cut"] is None and not entry["revise"]


def describe_fallback(entry: dict[str, Any]) -> str:
    """A fitted fallback entry in one line (what ``calibrate fit`` prints)."""
    f = entry["fitted"]
    at = entry["threshold"]
    if "target" in f:    # records fitted before the bound (a point estimate against the threshold) say neither
        target = f"target {f['target']:.3f}" + (
            f", the accuracy of the {f['unchecked']} predictions it accepts unchecked"
            if f.get("unchecked_accuracy") is not None and f["target"] > at else f", the threshold")
    if entry["cut"] is not None:
        verified = f"verifies a prediction below {at} when the fused confidence reaches {entry['cut']:.3f}"
        if "target" in f:
            verified += (f" (95% lower bound {f['bound']:.3f} from {f['verified_right']} of {f['verified']} right; "
                         f"{target})")
    elif f["agreed"]:
        verified = (f"never verifies (no cut's agreed predictions reach a 95% lower bound of the {target}; best "
                    f"{f['bound']:.3f})" if "target" in f else
                    f"never verifies (no cut made the agreed predictions right {at:.0%} of the time)")
    else:
        verified = "never verifies (the validators agreed with no prediction below it)"
    revise = "keeps" if entry["revise"] else "drops"
    nothing = "; it adds nothing, so classify skips the validators at this threshold" if adds_nothing(entry) else ""
    return (f"fallback at threshold {at}: {verified}; {f['agreed']} agreed predictions below it, {f['agreed_right']} "
            f"right; {revise} revisions ({f['revised_right']} of {f['revised']} right){nothing}")
