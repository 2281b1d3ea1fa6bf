"""``unibind calibrate fit`` (fit calibrators into a space directory) and ``unibind calibrate report``."""

from __future__ import annotations

from pathlib import Path

import click

from unibind_cli.devices import device_options
from unibind_cli.validation import POSITIVE, PROBABILITY, LabelList, SpaceDir

#: unibind.calibration.report.BUILT_IN, spelled out: importing it here would load torch for every command
BUILT_IN = ("fashion-mnist", "tuxpaint-photos", "tuxpaint-sounds", "tuxpaint-spoken-digits")


def open_space(space_dir: Path | None):
    """The space in ``space_dir`` (with ``space.json``), else the embedded default."""
    from unibind.space import Space

    if space_dir is not None and (space_dir / "space.json").is_file():
        return Space.from_dir(space_dir)
    return Space()


def open_space_to_write(space_dir: Path, new_space: bool):
    """The space whose folder ``--space`` names, for fitting into; ``--new`` starts a folder for the default
    space. A typo must not become a new folder of calibrators for the default space."""
    from unibind.spacelock import writing_space

    problem = None if new_space else SpaceDir().problem(space_dir)
    if problem:
        raise click.BadParameter(f"{problem}; --new starts one for the default space", param_hint="'--space'")
    # held until the command ends: a train into the same folder meanwhile would change the adapters it fits for
    ctx = click.get_current_context()
    ctx.with_resource(writing_space(space_dir, f"unibind {ctx.command_path.split(' ', 1)[-1]}"))
    return open_space(space_dir)


@click.group()
def calibrate() -> None:
    """Calibrated confidence: fit calibrators on held-out data, measure them."""


def _modality_of(data: Path, space, modality: str | None) -> str:
    """``modality`` as given, else the one modality of DATA's files (said on stderr); several: a usage error."""
    from collections import Counter

    from unibind.errors import UniBindError
    from unibind.training.data import read_dataset

    if modality:
        return modality
    if data.is_file() and data.suffix.lower() == ".json":
        raise click.UsageError(f"{data}: give --modality (the modality of the files it lists)")
    try:
        items, _ = read_dataset(data, space.registry)
    except UniBindError as exc:
        raise click.ClickException(str(exc)) from exc
    found = Counter(item.modality for item in items)
    if len(found) > 1:
        listed = ", ".join(f"{n} {m}" for m, n in found.most_common())
        raise click.UsageError(f"{data} holds files of several modalities ({listed}): give --modality")
    (only,) = found
    click.echo(f"modality: {only} (every usable file in {data}; --modality to choose)", err=True)
    return only


def _read_data(data: Path, space, modality: str, labels: list[str] | None):
    """The user's labelled files (folder per class or manifest), with an error naming DATA when unusable."""
    from unibind.calibration.userdata import read_labelled
    from unibind.errors import UniBindError

    try:
        space.registry.get("modality", modality)
    except UniBindError as exc:
        raise click.BadParameter(str(exc), param_hint="'--modality'") from exc
    if data.is_dir() and labels:
        missing = sorted(p.name for p in data.iterdir() if p.is_dir() and p.name not in labels)
        if missing:  # a class folder left out of --labels is a mistake, not something to skip silently
            raise click.UsageError(f"{data}: folders {missing} are not among --labels")
    try:
        found, skipped = read_labelled(data, space.registry, modality, labels)
    except UniBindError as exc:
        raise click.ClickException(str(exc)) from exc
    for failure in skipped:
        click.echo(f"skipped {failure.source}: {failure.reason}", err=True)
    return found


def _held_out(found, space_dir: Path | None, exclude: bool, data: Path):
    """``found`` without the files the space was trained on, or an error saying how many there are.

    A temperature fitted on training files is overconfident on new ones, and figures measured on them
    are optimistic: neither may happen without the user knowing."""
    import dataclasses

    from unibind.seen_files import TRAINED_ON, seen_by_space

    seen = set(seen_by_space(space_dir, found.modality, found.paths) or ())
    if not seen:
        return found
    if not exclude:
        raise click.ClickException(
            f"{data}: {len(seen)} of {len(found.paths)} {found.modality} files trained this space "
            f"({space_dir / TRAINED_ON}); calibrating or measuring on them gives overconfident figures. Give "
            "held-out files, or --exclude-trained to use only the others")
    keep = [n for n, p in enumerate(found.paths) if str(p) not in seen]
    click.echo(f"left out {len(seen)} of {len(found.paths)} files the space was trained on (--exclude-trained)",
               err=True)
    if len({found.targets[n] for n in keep}) < 2:
        raise click.ClickException(f"{data}: {len(keep)} held-out {found.modality} file(s) left, of fewer than "
                                   "two classes")
    return dataclasses.replace(found, paths=[found.paths[n] for n in keep], targets=[found.targets[n] for n in keep],
                               note=f"{found.note}, {len(seen)} training files left out")


EXCLUDE_TRAINED = click.option("--exclude-trained", is_flag=True, help="Leave out the files of DATA the space was "
                               "trained on (by default they are an error: figures on them are overconfident).")


def fitted_parameters(calibrator) -> str:
    """The fitted numbers of a calibrator, short enough for one line."""
    temperature = getattr(calibrator, "temperature", None)
    if temperature is not None:
        return f"temperature T = {temperature:.4f} (probabilities = softmax(logits / T))"
    parts = []
    for key, tensor in calibrator.state_dict().items():
        values = tensor.flatten().tolist()
        shown = ", ".join(f"{v:.3f}" for v in values[:6]) + (", ..." if len(values) > 6 else "")
        parts.append(f"{key} [{shown}]")
    return "; ".join(parts)


@calibrate.command("fit")
@click.argument("data", type=click.Path(exists=True, path_type=Path))
@click.option("--space", "space_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Space directory: calibrators are saved in SPACE/calibrators/<modality>.safetensors.")
@click.option("--new", "new_space", is_flag=True,
              help="SPACE is a new folder for calibrators of the default space (no space.json).")
@click.option("--modality", help="Modality of the files in DATA (default: the one modality they have).")
@click.option("--method", default="temperature", show_default=True, help="Registered calibrator name.")
@click.option("--labels", type=LabelList(), help="Comma-separated class names in classify order "
              "(default: DATA's labels, sorted).")
@click.option("--centres", type=click.Path(dir_okay=False, path_type=Path), help="Knowledge-base centres file.")
@click.option("--threshold", default=0.6, show_default=True, type=PROBABILITY,
              help="Fallback threshold the fallback's cut is fitted for (classify's --threshold); cuts at 0.5, 0.6, "
              "0.7, 0.8 and 0.9 are fitted and saved too.")
@EXCLUDE_TRAINED
@device_options
def fit(data: Path, space_dir: Path, new_space: bool, modality: str | None, method: str, labels: list[str] | None,
        centres: Path | None, threshold: float, exclude_trained: bool) -> None:
    """Fit a calibrator on held-out labelled files: DATA/<class name>/<file>, or a JSONL/JSON manifest of
    {"path": ..., "label": ...}.

    The fallback's cut (above which predictions the validators agree with are verified) and whether
    its revisions are kept are fitted on the same files, as for the shipped defaults, and saved with
    the calibrator: `classify --space` uses them at the same --threshold."""
    from unibind.calibration.defaults import describe_fallback, fit_fallback, fitted_thresholds
    from unibind.calibration.domain import CalibrationDomain
    from unibind.calibration.metrics import calibration_report
    from unibind.calibration.scoring import score_files
    from unibind.calibration.store import CalibratorRecord, FittedCalibrator, calibrator_entries, save_calibrator
    from unibind.errors import UniBindError
    from unibind.validation.base import FallbackSettings

    import torch

    space = open_space_to_write(space_dir, new_space)
    modality = _modality_of(data, space, modality)
    found = _held_out(_read_data(data, space, modality, labels), space_dir, exclude_trained, data)
    names = found.classes
    try:
        # the space's own centres (None): classes it has none saved for are built now by its recipe, as classify
        scored = score_files(space, found.paths, names, modality, centres=centres)
        target_of = dict(zip(map(str, found.paths), found.targets))
        y = torch.tensor([target_of[s] for s in scored.embedded.sources])
        if len(set(y.tolist())) < 2:
            raise click.ClickException(f"{data}: {len(y)} {modality} file(s) loaded, of fewer than two classes; "
                                       "calibrating needs held-out files of at least two classes")
        calibrator = space.registry.get("calibrator", method).build().fit(scored.logits, y)
        probs = calibrator(scored.logits)
        before = calibration_report(torch.softmax(scored.logits, -1), y, scores=scored.logits).as_dict()
        after = calibration_report(probs, y, scores=scored.logits).as_dict()
        record = CalibratorRecord(name=method, modality=modality, labels=scored.labels,
                                  class_specific=calibrator.class_specific, fitted_on=len(y),
                                  logit_scale=space.logit_scale, metrics={"before": before, "after": after})
        # the files it is fitted on: classify says when an input is unlike all of them (unibind.calibration.domain)
        fitted = FittedCalibrator(calibrator, record, CalibrationDomain.fit(scored.embedded.vectors))
        # the fallback's cut on the same files, exactly as classify will run it on these probabilities
        record.provenance["fallback"] = fit_fallback(
            space, fitted, threshold, modality=modality, labels=scored.labels, sources=scored.embedded.sources,
            probs=probs, vectors=scored.embedded.vectors, truth=y.tolist(), centre_set=scored.centre_set,
            scores=scored.logits)
    except UniBindError as exc:
        raise click.ClickException(str(exc)) from exc
    path = save_calibrator(space_dir, fitted)
    if (space_dir / "space.json").is_file():
        from unibind.spacedir import read_record, write_record

        space_record = read_record(space_dir)
        space_record.calibrators = calibrator_entries(space_dir)
        write_record(space_dir, space_record)
    for failure in scored.embedded.failures:
        click.echo(f"skipped {failure.source}: {failure.reason}", err=True)
    for built in space.built_classes.values():
        click.echo(f"note: {built.describe()}", err=True)
    click.echo(f"{method} fitted on {len(y)} {modality} files ({len(names)} classes) -> {path}")
    click.echo(f"fitted: {fitted_parameters(calibrator)}")
    click.echo(f"ECE {before['ece']:.3f} -> {after['ece']:.3f}, NLL {before['nll']:.3f} -> {after['nll']:.3f} "
               "(on the fitting data; measure on held-out data with `unibind calibrate report DATA`)")
    if fitted.domain is not None:
        click.echo(fitted.domain.describe())
    grid = ", ".join(f"{t:g}" for t in fitted_thresholds(record))
    click.echo(describe_fallback(record.provenance["fallback"]) + f" (classify --space uses it at --threshold "
               f"{threshold}; a cut fitted the same way at each of {grid}; at any other threshold the unfitted "
               f"cut {FallbackSettings().min_support} applies)")


@calibrate.command("report")
@click.argument("data", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for report.json, reliability diagrams, risk-coverage curves and cached scores.")
@click.option("--modality", help="Modality of the files in DATA (default: the one modality they have).")
@click.option("--labels", type=LabelList(), help="Class names of DATA in order (default: its labels, sorted).")
@click.option("--held-out-fraction", default=0.5, show_default=True, type=click.FloatRange(0, 1, min_open=True,
              max_open=True), help="Share of each class measured on; the rest fits the calibrators.")
@click.option("--dataset", "datasets", multiple=True, type=click.Choice(list(BUILT_IN)),
              help="Built-in real datasets to measure (default without DATA: fashion-mnist, tuxpaint-photos, "
                   "tuxpaint-sounds).")
@click.option("--fashion", default=300, show_default=True, type=POSITIVE,
              help="Fashion-MNIST test images to use.")
@click.option("--threshold", default=0.6, show_default=True, type=PROBABILITY,
              help="Fallback threshold on calibrated confidence.")
@click.option("--space", "space_dir", type=SpaceDir(), help="Space directory (default: the embedded default).")
@click.option("--seed", default=0, show_default=True, help="Seed of the calibration / held-out split.")
@click.option("--validator", "validators", multiple=True, help="Fallback validators to run (default: all registered).")
@EXCLUDE_TRAINED
@device_options
def report(data: Path | None, out: Path, modality: str | None, labels: list[str] | None, held_out_fraction: float,
           datasets: tuple[str, ...], fashion: int, threshold: float, space_dir: Path | None,
           seed: int, validators: tuple[str, ...], exclude_trained: bool) -> None:
    """ECE/MCE/NLL/Brier before and after calibration (fitted on one part, measured on the held-out part),
    the fitted temperature, reliability diagrams and the fallback's effect.

    DATA (optional): your labelled files, DATA/<class>/<file> or a JSONL/JSON manifest of
    {"path": ..., "label": ...}; without it, the built-in real datasets.
    """
    from unibind.calibration.report import format_report, run_report
    from unibind.errors import UniBindError

    if data is None and (modality or labels):
        raise click.UsageError("--modality and --labels describe DATA; give DATA too")
    space = open_space(space_dir)
    modality = _modality_of(data, space, modality) if data is not None else None
    extra = [_held_out(_read_data(data, space, modality, labels), space_dir, exclude_trained, data)] \
        if data is not None else []
    if data is None and not datasets:
        datasets = ("fashion-mnist", "tuxpaint-photos", "tuxpaint-sounds")
    try:
        from unibind.calibration.defaults import default_calibrators

        shipped = default_calibrators(space)[0] if space_dir is None or not (space_dir / "space.json").is_file() \
            else {}
        results = run_report(space, out, fashion=fashion, threshold=threshold, seed=seed, held_out=held_out_fraction,
                             validators=list(validators) or None, datasets=datasets, extra=extra, shipped=shipped)
    except UniBindError as exc:
        raise click.ClickException(str(exc)) from exc
    for built in space.built_classes.values():  # classes outside a trained space's saved centres, as classify
        click.echo(f"note: {built.describe()}", err=True)
    click.echo(format_report(results))
    click.echo(f"figures as JSON: {out / 'report.json'}")


def load_for_classify(space_dir: Path | None, calibrator_file: Path | None, centres: Path | None = None):
    """(space, calibrators, why) for ``unibind classify``: modality -> calibrator, and modality -> why the
    shipped default calibrator, or the space's own (fitted before the space was trained again), does not apply.

    The embedded default (no ``--space``, or a folder of calibrators for it) starts from the shipped
    default calibrators; the folder's own calibrators and ``--calibrator`` replace them per modality.
    """
    from unibind.calibration.defaults import default_calibrators
    from unibind.calibration.store import applicable_calibrators, load_calibrator

    space = open_space(space_dir)
    calibrators, why = {}, {}
    if space_dir is None or not (space_dir / "space.json").is_file():
        calibrators, why = default_calibrators(space, centres=centres)
        why = {m: f"the shipped {m} calibrator does not apply: {w}" for m, w in why.items()}
    if space_dir is not None:
        saved, stale = applicable_calibrators(space_dir, space.registry)
        calibrators.update(saved)
        for m, w in stale.items():
            calibrators.pop(m, None)      # nor the shipped default: the folder's own calibrator was meant
            why[m] = f"the space's {m} calibrator does not apply: {w}"
    if calibrator_file is not None:
        fitted = load_calibrator(calibrator_file, space.registry)
        calibrators[fitted.record.modality] = fitted
    return space, calibrators, why
