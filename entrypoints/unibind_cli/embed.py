"""``unibind embed`` and ``unibind classify``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from unibind_cli.devices import device_options
from unibind_cli.validation import POSITIVE, PROBABILITY, LabelList, SpaceDir


def _space(encoder: str | None, adapter: str | None, modality: str | None, space_dir: Path | None = None):
    """The space to embed with: a trained folder as saved, or the embedded default with named parts.

    A trainable adapter (``linear``, ``mlp``...) outside a trained space embeds with its untrained
    (seeded) weights: allowed (tests and feature pipelines use it) but said loudly, since the vectors
    look fine and are not aligned to the text space.
    """
    from unibind.space import Space

    if space_dir is not None:
        if encoder or adapter:
            raise click.UsageError("--space uses the encoders and adapters it was trained with; "
                                   "drop --encoder/--adapter")
        return Space.from_dir(space_dir)
    space = Space(encoders={modality: encoder} if encoder and modality else None,
                  adapters={modality: adapter} if adapter and modality else None)
    if adapter:
        spec = space.registry.get("adapter", adapter)
        if spec.trainable:
            click.echo(f"Warning: adapter {adapter!r} is untrained here: its vectors are a fixed random map of the "
                       f"features, not aligned to the text space; train it with `unibind train ... --adapter "
                       f"{adapter} --out SPACE`, then embed with --space SPACE", err=True)
    return space


def _say_parts(space, modality: str, space_dir: Path | None) -> dict[str, str]:
    """Which encoder and adapter made the vectors (on stderr), so two runs can be compared knowingly."""
    pipe = space.pipeline(modality)
    where = f"trained in {space_dir}" if modality in space.trained_adapters else "untrained"
    if modality == "text":
        where = "the text encoder defines the space"
    click.echo(f"{modality}: encoder {pipe.encoder_name}, adapter {pipe.adapter_name} ({where})", err=True)
    return {"encoder": pipe.encoder_name, "adapter": pipe.adapter_name, "space": str(space_dir or "default")}


def _expand(inputs, space, modality: str | None):
    """Files and folders as given, through the one expansion every command shares."""
    from unibind.inputs import expand_inputs

    found = expand_inputs(inputs, space.registry, modality)
    if found.ignored_note():
        click.echo(found.ignored_note(), err=True)
    return found


def _report_warnings(noted) -> None:
    """Inputs used although their result means little (e.g. silent audio), on stderr.

    ``classify --json`` records carry them too (``Prediction.warnings``).
    """
    for w in noted:
        click.echo(f"warning: {w.source}: {w.reason}", err=True)


def _report_failures(failures) -> None:
    if failures:
        click.echo(f"skipped {len(failures)} input(s):", err=True)
        for failure in failures:
            click.echo(f"  {failure.source}: {failure.reason}", err=True)


@click.command()
@click.argument("modality")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--encoder", help="Encoder name (default: the modality's default).")
@click.option("--adapter", help="Adapter name (default: the modality's default; a trainable one needs --space).")
@click.option("--space", "space_dir", type=SpaceDir(calibrators_only_ok=False),
              help="A trained space directory: embed with its encoders and trained adapters.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Save to a .safetensors file (tensor 'embeddings', sources in the metadata).")
@click.option("--json", "as_json", is_flag=True, help="Print full vectors as JSON lines.")
@click.option("--batch-size", default=32, show_default=True, type=POSITIVE)
@device_options
def embed(modality: str, inputs: tuple[str, ...], encoder: str | None, adapter: str | None, out: Path | None,
          as_json: bool, batch_size: int, space_dir: Path | None = None) -> None:
    """Embed INPUTS (files, folders or WebDataset .tar shards; strings for `text`) into the space.

    Runs under torchrun too: each rank embeds its share into the shared feature cache, rank 0 writes.
    """
    from unibind.errors import UniBindError

    try:
        space = _space(encoder, adapter, modality, space_dir)
        if modality == "text":
            from unibind.space import Embeddings

            result = Embeddings(space.embed_text(list(inputs)), list(inputs), "text")
        else:
            from unibind_cli.embed_sharded import embed_sharded

            found = _expand(inputs, space, modality)
            result = embed_sharded(space, found.files, modality, batch_size)
            if result is None:  # a torchrun rank other than 0: rank 0 reports and writes
                return
            result.failures[:0] = found.skipped
        parts = _say_parts(space, modality, space_dir)
    except UniBindError as exc:
        raise click.ClickException(str(exc)) from exc
    if out is not None:
        from unibind.atomic import save_tensors

        save_tensors({"embeddings": result.vectors}, out,
                     metadata={"sources": json.dumps(result.sources), "modality": modality, **parts})
        click.echo(f"saved {len(result.sources)} x {result.vectors.shape[1]} embeddings to {out}")
    elif as_json:
        for source, vector in zip(result.sources, result.vectors.tolist()):
            click.echo(json.dumps({"source": source, "embedding": vector}))
    else:
        _print_embedding_summary(result)
    _report_warnings(result.warnings)
    _report_failures(result.failures)
    if result.failures:
        sys.exit(1)


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--labels", type=LabelList(),
              help="Comma-separated class names (with --centres: some of its classes).")
@click.option("--centres", type=click.Path(dir_okay=False, path_type=Path),
              help="Class centres from `unibind kb centres` (ECL); default: prompt-template means.")
@click.option("--reduce", type=click.Choice(["max", "mean", "softmax"]),
              help="Scoring over a class's centres (default: as saved with them; max is the paper's).")
@click.option("--top-k", default=3, show_default=True, type=POSITIVE)
@click.option("--modality", help="Force a modality instead of inferring it from the suffix.")
@click.option("--json", "as_json", is_flag=True, help="Print predictions as JSON lines.")
@click.option("--space", "space_dir", type=SpaceDir(),
              help="Space directory: its encoders, adapters, centres and fitted calibrators. --labels it has no "
              "saved centres for are built now by its recipe (never saved into it).")
@click.option("--kb", "kb_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="With --space: the knowledge base (read only) to build --labels outside its saved centres from, "
              "when those came from one [default: their prompt-template mean].")
@click.option("--calibrator", "calibrator_file", type=click.Path(dir_okay=False, path_type=Path),
              help="A fitted calibrator file (SPACE/calibrators/<modality>.safetensors).")
@click.option("--threshold", type=PROBABILITY, help="Run the fallback validators below this calibrated confidence "
              "[default: 0.6; the fallback runs where the probabilities are calibrated].")
@click.option("--no-fallback", is_flag=True, help="Do not re-check low-confidence predictions with the validators.")
@click.option("--no-stacking", is_flag=True, help="Raw scores: do not subtract the calibrated-stacking offset "
              "--space recorded from the classes it was trained on.")
@click.option("--explain", is_flag=True, help="Add why: best-matching descriptions, entropy (JSON output).")
@click.option("--multi-label", is_flag=True, help="Every class above its own fitted threshold, each with its "
              "calibrated probability (needs `unibind calibrate fit-multi-label` in --space).")
@device_options
def classify(files: tuple[Path, ...], labels: list[str] | None, centres: Path | None, reduce: str | None,
             top_k: int, modality: str | None, as_json: bool, space_dir: Path | None = None,
             calibrator_file: Path | None = None, threshold: float | None = None, no_fallback: bool = False,
             explain: bool = False, multi_label: bool = False, no_stacking: bool = False,
             kb_path: Path | None = None) -> None:
    """Zero-shot classify FILES (files or folders) against --labels and/or knowledge-base --centres."""
    from unibind.errors import UniBindError
    from unibind.results import Failure
    from unibind.space import Space

    from unibind_cli.calibrate import load_for_classify

    if not labels and centres is None and space_dir is None:
        raise click.UsageError("give --labels, --centres, or both")
    if no_fallback and threshold is not None:
        raise click.UsageError("--threshold sets where the fallback runs; it cannot go with --no-fallback")
    if multi_label and calibrator_file is not None:
        raise click.UsageError("--calibrator is a single-label calibrator; --multi-label uses the one "
                               "`unibind calibrate fit-multi-label` saved in --space")
    if kb_path is not None and (space_dir is None or centres is not None):
        raise click.UsageError("--kb builds the --labels a --space has no saved centres for; without --space (or "
                               "with --centres) make knowledge-base centres with `unibind kb centres` and pass "
                               "--centres")
    try:
        from unibind.calibration.defaults import fallback_for

        names = labels or None
        space, calibrators, why_default = load_for_classify(space_dir, calibrator_file, centres)
        space.stacking = not no_stacking
        space.kb = kb_path
        cut = 0.6 if threshold is None else threshold
        found = _expand(files, space, modality)
        if multi_label:  # the space folder's multi-label calibrators (unibind.multilabel)
            from unibind.calibration.multilabel_store import load_multilabels
            from unibind.validation.base import Fallback, FallbackSettings

            calibrators = load_multilabels(space_dir)
            # per-class calibrated probabilities: classes above their threshold but below the cut are re-checked
            fallback = None if no_fallback else Fallback(FallbackSettings(threshold=cut), registry=space.registry)
        else:  # the fallback acts on calibrated confidence: where there is none, a threshold on it means nothing
            fallback = {} if no_fallback else {m: fallback_for(space, c, cut) for m, c in calibrators.items()}
        predictions, failures = space.classify(found.files, names, modality=modality, top_k=top_k, centres=centres,
                                               reduce=reduce, calibrator=calibrators or None,
                                               fallback=fallback, explain=explain, multi_label=multi_label)
    except UniBindError as exc:
        raise click.ClickException(str(exc)) from exc
    failures = found.skipped + list(failures)
    for built in space.built_classes.values():  # classes outside the saved centres: what they were made from
        click.echo(f"note: {built.describe()}", err=True)
    if space_dir is not None and centres is None:  # the space's saved centres: say when their KB changed since
        from unibind.spacedir import stale_centres

        for line in stale_centres(space):
            click.echo(f"warning: {line}", err=True)
    if as_json:
        for p in predictions:
            click.echo(p.model_dump_json())
    elif multi_label:
        _print_multi_label(predictions)
    else:
        _print_predictions(predictions)
        _say_calibration(predictions, space_dir, calibrators, why_default, no_fallback)
        _say_calibration_domain(predictions, calibrators, space_dir)
        for p in predictions:
            if p.fallback is not None and p.fallback.ran:
                said = ", ".join(f"{v.name} {v.verdict}" for v in p.fallback.validators)
                click.echo(f"{Path(p.source).name}: {p.fallback.decision} ({said}){_fallback_detail(p)}")
        _report_warnings(Failure(source=p.source, reason=w) for p in predictions for w in p.warnings)
    if not multi_label and fallback:     # after the predictions: a JSON reader's first line stays a prediction
        _say_unfitted_cut(fallback, calibrators, {p.modality for p in predictions}, cut, space_dir)
        _say_adds_nothing(fallback, calibrators, {p.modality for p in predictions}, cut)
    _report_failures(failures)
    if failures:
        sys.exit(1)


def _say_unfitted_cut(fallback, calibrators, modalities, threshold: float, space_dir: Path | None) -> None:
    """Once per modality on stderr: the fallback's cut was not fitted at this threshold, and how to fit it."""
    from unibind.calibration.defaults import fitted_thresholds

    for m in sorted(modalities & {m for m, f in fallback.items() if not getattr(f, "fitted", True)}):
        record = getattr(calibrators.get(m), "record", None)
        at = ", ".join(f"{t:g}" for t in fitted_thresholds(record)) or "none"
        where = str(space_dir) if space_dir is not None else "SPACE"
        click.echo(f"fallback: the {m} cut is unfitted at threshold {threshold:g} (fitted at: {at}); agreed "
                   f"predictions are verified from a fused confidence of {fallback[m].cut:g}, a guess; fit it on "
                   f"held-out labelled files with `unibind calibrate fit DATA --space {where} --modality {m} "
                   f"--threshold {threshold:g}`" + ("" if space_dir is not None else " (SPACE: a new folder for the "
                                                    "default space)"), err=True)


def _say_adds_nothing(fallback, calibrators, modalities, threshold: float) -> None:
    """Once per modality on stderr: the fitted fallback verifies nothing and keeps no revision here, so its
    validators were not run (they cost time and could not change an answer)."""
    from unibind.calibration.defaults import fitted_entry

    for m in sorted(modalities & {m for m, f in fallback.items() if getattr(f, "adds_nothing", False)}):
        f = (fitted_entry(getattr(calibrators.get(m), "record", None), threshold) or {}).get("fitted", {})
        why = (f"no cut's agreed predictions were right at least {f['target']:.3f} of the time at 95% confidence"
               if "target" in f else "no cut reached the threshold") + " on its fitting files"
        click.echo(f"fallback: at threshold {threshold:g} the {m} calibrator's fallback verifies nothing and keeps "
                   f"no revision ({why}), so validators skipped; predictions below {threshold:g} are rejected",
                   err=True)


def _print_multi_label(predictions) -> None:
    """Every class above its threshold per file, or that there is none (calibrated per-class probabilities)."""
    for p in predictions:
        held = ", ".join(f"{d.label} {d.probability:.2f}" for d in p.labels) or "no class above its threshold"
        click.echo(f"{Path(p.source).name}{' *' if _unlike(p) else ''}: {held}")
        for d in p.rejected:
            click.echo(f"  {d.label} {d.probability:.2f} above its threshold {d.threshold:.2f}, but "
                       f"{d.fallback.decision} by the fallback validators")  # type: ignore[union-attr]
    if predictions:
        click.echo("probabilities: calibrated per class (the space's multi-label calibrator); a class counts "
                   "when at or above its fitted threshold", err=True)
        _say_multi_label_domain(predictions)


def _unlike(p) -> bool:
    """Whether a prediction's input is unlike its calibrator's fitting files, alone or in the set it came with."""
    return p.calibration_domain is False or (p.calibration_set is not None and p.calibration_set.unlike)


def _unlike_files(predictions) -> list[tuple[str, str, str]]:
    """(modality, who is unlike, how a classifier told them apart or "") per modality whose inputs the domain
    checks found unlike their calibrator's fitting files: the parts of the stderr line."""
    out = []
    for m in sorted({p.modality for p in predictions}):
        mine = [p for p in predictions if p.modality == m and p.calibration_domain is not None]
        test = next((p.calibration_set for p in mine if p.calibration_set is not None), None)
        outside = sum(p.calibration_domain is False for p in mine)
        if test is not None and test.unlike:
            out.append((m, f"these {len(mine)} {m} files, taken together, are unlike",
                        f" (a classifier tells them apart: AUROC {test.auroc:.2f}, p {test.p_value:.1g})"))
        elif outside:
            out.append((m, f"{outside} of {len(mine)} {m} file(s) are unlike", ""))
    return out


def _say_multi_label_domain(predictions) -> None:
    """On stderr: files (marked *) unlike the ones the multi-label calibrator was fitted on."""
    for m, who, apart in _unlike_files(predictions):
        click.echo(f"calibration: {who} the files the {m} multi-label calibrator was fitted on{apart}, so their "
                   "probabilities and thresholds (marked *) are not known to hold for them; fit it on labelled "
                   "files like yours", err=True)


def _print_predictions(predictions, truth: dict[str, str] | None = None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table()
    table.add_column("file")
    if truth:
        table.add_column("true")
    table.add_column("prediction")
    table.add_column("p", justify="right")
    table.add_column("entropy", justify="right")
    table.add_column("runners-up")
    for p in predictions:
        mark = ""
        if truth:
            mark = " [green]✓[/]" if truth[p.source] == p.label else " [red]✗[/]"
        probability, runners, note = shown(p)
        row = [Path(p.source).name] + ([truth[p.source]] if truth else [])
        # non-breaking spaces inside a pair: a narrow terminal wraps between pairs, never inside one
        # *: not calibrated for this input, which is unlike the files its calibrator was fitted on
        outside = "*" if _unlike(p) else ""
        row += [p.label + mark + (f" ({escape(note)})" if note else ""), f"{probability:.3f}{outside}",
                f"{p.entropy:.2f}",
                ", ".join(f"{s.label}\u00a0{s.probability:.2f}".replace(" ", "\u00a0") for s in runners)]
        table.add_row(*row)
    Console().print(table)


def shown(p) -> tuple[float, list, str]:
    """(p, runners-up, note) of one table row: p is always the calibrated probability of the printed label and
    the runners-up are the other top classes, so p is below a runner-up only when the fallback's validators
    revised the label, and the note then says by whom and what the calibrated top was. A rejected prediction
    says so in its row: the label is the calibrated top, not an answer (the fallback answers "don't know")."""
    f = p.fallback
    runners = [s for s in p.top if s.label != p.label]
    # verified/rejected: Prediction.confidence is the fused confidence, not a class probability
    probability = next((s.probability for s in p.top if s.label == p.label), p.confidence)
    if f is not None and f.decision == "rejected":
        return probability, runners, f"rejected: below {f.threshold:g}, not verified"
    if f is None or f.decision != "revised":
        return probability, runners, ""
    voters = ", ".join(v.name for v in f.validators if v.verdict == "disagree")
    return probability, runners, (f"revised by {voters}; calibrated top: {f.original_label} "
                                  f"{f.original_confidence:.2f}")


def _fallback_detail(p) -> str:
    """What the decision did to the label or the confidence (the table shows calibrated probabilities)."""
    f = p.fallback
    if f.decision == "revised":
        return f"; {f.original_label} {f.original_confidence:.3f} -> {p.label} {p.confidence:.3f} (calibrated)"
    if f.decision == "verified":
        return f"; fused confidence {p.confidence:.3f} (calibrated {f.original_confidence:.3f})"
    return ""


def _say_calibration(predictions, space_dir: Path | None, calibrators=None, why_default=None,
                     no_fallback: bool = False) -> None:
    """On stderr: are these probabilities calibrated (by what), how to get calibrated ones, and where the
    fallback did not run and why."""
    from unibind.calibration.defaults import describe

    if not predictions:
        return
    calibrators, why_default = calibrators or {}, why_default or {}
    calibrated = sorted({p.modality for p in predictions if p.calibrated})
    raw = sorted({p.modality for p in predictions if not p.calibrated})
    for m in calibrated:
        source = describe(calibrators[m]) if m in calibrators else "the space's fitted calibrator"
        click.echo(f"probabilities: calibrated for {m} ({source})", err=True)
    if raw:
        where = str(space_dir) if space_dir is not None else "SPACE"
        shipped = "; ".join(why_default[m] for m in raw if m in why_default)
        click.echo(f"probabilities: uncalibrated for {', '.join(raw)} (softmax of scaled cosines, often over- or "
                   f"under-confident{'; ' + shipped if shipped else ''}); for calibrated ones fit a calibrator on "
                   f"held-out labelled files with `unibind calibrate fit DATA --space {where} --modality {raw[0]}` "
                   f"and classify with --space {where}" + ("" if space_dir is not None else " (SPACE: a trained "
                                                            "space, or a new folder for the default one)"), err=True)
        if not no_fallback:
            click.echo(f"fallback: not run for {', '.join(raw)} (it re-checks predictions below a calibrated "
                       "confidence; these probabilities are uncalibrated)", err=True)


def _say_calibration_domain(predictions, calibrators, space_dir: Path | None) -> None:
    """On stderr: inputs unlike the files their calibrator was fitted on, one by one or as a set (p marked * in
    the table)."""
    where = str(space_dir) if space_dir is not None else "NEW_FOLDER --new"
    for m, who, apart in _unlike_files(predictions):
        record = calibrators[m].record
        click.echo(f"calibration: {who} the {record.fitted_on} files of "
                   f"{record.provenance.get('dataset') or 'held-out files'} the {m} calibrator was fitted on{apart}, "
                   f"so their p (marked *) is not known to be calibrated for them; calibrate on labelled files like "
                   f"yours: `unibind calibrate fit DATA --space {where}`", err=True)


def _print_embedding_summary(result) -> None:
    """One aligned line per input (path, dim, norm, first values) instead of a wrapped raw vector."""
    if not len(result.sources):
        return
    width = min(48, max(len(str(s)) for s in result.sources))
    for source, vector in zip(result.sources, result.vectors):
        name = str(source)
        if len(name) > width:
            name = "..." + name[-(width - 3):]
        head = " ".join(f"{v:+.3f}" for v in vector[:4].tolist())
        click.echo(f"{name:<{width}}  dim {vector.numel():>4}  norm {float(vector.norm()):.3f}  [{head} ...]")
    click.echo(f"{len(result.sources)} embeddings; save them with --out FILE.safetensors, or print every "
               "value with --json", err=True)
