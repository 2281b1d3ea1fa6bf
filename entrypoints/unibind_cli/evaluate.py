"""``unibind eval``: zero-shot tables (``zeroshot``) and the HTML report (``report``). Thin: calls the library."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from unibind_cli.devices import device_options
from unibind_cli.validation import given

DATA_HELP = ("fashion-mnist[:N], fashion-mnist-inverted[:N], tuxpaint[:N], tuxpaint-pairs[:N] (photo + sound "
             "of the same stamps) or a folder of class folders; repeat for several.")
KS = (5, 10, 20, 50, 100)


def _command() -> str:
    """The command as typed, rebuilt from click's parsed options (what a report says reproduces it)."""
    ctx = click.get_current_context()
    parts = ["unibind", *ctx.command_path.split()[1:]]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if not isinstance(param, click.Option) or value in (None, False, ()) or value == param.default:
            continue
        if param.is_flag:
            parts.append(param.opts[0])
            continue
        for v in value if param.multiple else (value,):
            parts += [param.opts[0], shlex.quote(str(v))]
    return " ".join(parts)


def _sets(specs: tuple[str, ...]):
    from unibind.errors import UniBindError
    from unibind.evaluation.data import parse_data

    try:
        return [s for spec in specs for s in parse_data(spec)]
    except (UniBindError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--data") from exc


@click.group("eval")
def evaluate() -> None:
    """Evaluate the space: zero-shot accuracy by class-centre method, retrieval, balance, pictures."""


@evaluate.command()
@click.option("--data", "data", multiple=True, default=("fashion-mnist", "tuxpaint"), show_default=True,
              help=DATA_HELP)
@click.option("--kb", "kb_path", type=click.Path(dir_okay=False, path_type=Path), default="eval-kb.sqlite",
              show_default=True, help="Knowledge base for the classes: read if it exists (never changed "
              "without --update-kb), built here if it does not.")
@click.option("--source", "sources", multiple=True, default=("wordnet",), show_default=True,
              metavar="NAME[:key=value,...]", help="Description sources for ECL and the description rows "
              "(uninstalled ones are reported and skipped); LLM sources are slow, add them explicitly, e.g. "
              "--source llm-transformers. The template-mean baseline needs none; --source templates also "
              "adds an ECL row with the templates counted as descriptions.")
@click.option("--per-class", default=100, show_default=True,
              help="Descriptions per class and source, for a source the knowledge base has none of.")
@click.option("--update-kb", is_flag=True, help="Add what the knowledge base lacks to it (default: it is only "
              "read, and additions go to OUT/kb-with-additions.sqlite).")
@click.option("--k", "ks", multiple=True, type=int, default=KS, show_default=True, help="ECL k values.")
@click.option("--reduce", type=click.Choice(["max", "mean", "softmax"]), default="max", show_default=True,
              help="Scoring over a class's centre set (max: the paper).")
@click.option("--space", "space_dir", type=click.Path(file_okay=False, path_type=Path),
              help="A trained SPACE directory (default: the embedded default, image encoder + ImageNet bridge).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default="eval-out",
              show_default=True, help="Writes zeroshot.md and zeroshot.json here.")
@device_options
def zeroshot(data: tuple[str, ...], kb_path: Path, sources: tuple[str, ...], per_class: int, update_kb: bool,
             ks: tuple[int, ...], reduce: str, space_dir: Path | None, out_dir: Path) -> None:
    """Zero-shot top-1 accuracy for class name, template mean, per-source means, all-mean and ECL at each k.

    ECL chooses among descriptions (the --source ones, never the prompt templates); the template mean is
    the baseline it is compared with. Every row says what its centres are.
    """
    from unibind.errors import UniBindError
    from unibind.evaluation.runner import knowledge_for, write_results, zero_shot

    sets = _sets(data)
    space = _space(space_dir)
    results, written = [], []
    # a knowledge base this run creates is its output for every set, not a user's file from the second set on
    update_kb = update_kb or not kb_path.exists()
    try:
        for s in sets:
            plan = knowledge_for(kb_path, s.classes, sources, per_class=per_class, modality=s.modality,
                                 update=update_kb, scratch=out_dir / "kb-with-additions.sqlite")
            for line in plan.messages(kb_path):
                click.echo(f"{s.name}: {line}", err=True)
            result = zero_shot(space, s, plan.path, ks=ks, reduce=reduce, command=_command())
            results.append(result)
            _print_table(result)
            for f in result.skipped:
                click.echo(f"skipped {f['source']}: {f['reason']}", err=True)
            # written after every set (atomically), so a long run stopped or failing later keeps what it measured
            written = write_results(results, out_dir)
    except (UniBindError, ValueError) as exc:
        kept = f" ({', '.join(r.dataset for r in results)} kept in {out_dir})" if results else ""
        raise click.ClickException(f"{exc}{kept}") from exc
    for path in written:
        click.echo(f"wrote {path}")


@evaluate.command()
@click.option("--data", "data", multiple=True, default=("tuxpaint-pairs",), show_default=True, help=DATA_HELP)
@click.option("--space", "space_dir", type=click.Path(file_okay=False, path_type=Path),
              help="A trained SPACE directory: evaluated after the default space (before/after training). "
              "Classes it has no saved centres for are built now by its recipe (from --kb only if given).")
@click.option("--kb", "kb_path", type=click.Path(dir_okay=False, path_type=Path), default="eval-kb.sqlite",
              show_default=True, help="Knowledge base for ECL centres: read if it exists (never changed without "
              "--update-kb), built here with --source if it does not.")
@click.option("--source", "sources", multiple=True, default=("wordnet",), show_default=True,
              metavar="NAME[:key=value,...]", help="Description sources ECL chooses among (templates are the "
              "baseline row and need none).")
@click.option("--update-kb", is_flag=True, help="Add what the knowledge base lacks to it (default: additions go "
              "to OUT/kb-with-additions.sqlite).")
@click.option("--k", "k", default=50, show_default=True, help="ECL k.")
@click.option("--zeroshot", "zeroshot_json", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A zeroshot.json from `unibind eval zeroshot` to include.")
@click.option("--figure", "figures", multiple=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Extra PNG (e.g. a reliability diagram from calibration) to include; repeatable.")
@click.option("--no-default", is_flag=True, help="Evaluate only the --space, not the default space before it.")
@click.option("--no-stacking", is_flag=True, help="Score the --space without the calibrated-stacking offset it "
              "recorded (raw scores).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default="eval-report",
              show_default=True)
@device_options
def report(data: tuple[str, ...], space_dir: Path | None, kb_path: Path, sources: tuple[str, ...], update_kb: bool,
           k: int,
           zeroshot_json: Path | None, figures: tuple[Path, ...], no_default: bool, out_dir: Path,
           no_stacking: bool = False) -> None:
    """HTML report: accuracy, recall@1/5/10/20 both ways, modality balance, t-SNE and retrieval grids."""
    import json

    from unibind.errors import UniBindError
    from unibind.evaluation.from_space import report_for_spaces
    from unibind.evaluation.runner import knowledge_for
    from unibind.evaluation.zeroshot import ZeroShotResult

    sets = _sets(data)
    spaces = [] if no_default else [("before training (default space, ImageNet bridge)", _space(None))]
    if space_dir is not None:
        spaces.append((f"after training ({space_dir})", _space(space_dir)))
        spaces[-1][1].stacking = not no_stacking
    if not spaces:
        raise click.UsageError("--no-default needs --space")
    _say_trained_files(space_dir, sets)
    tables = []
    if zeroshot_json is not None:
        tables = [ZeroShotResult.model_validate(r) for r in json.loads(zeroshot_json.read_text())]
    try:
        classes = list(dict.fromkeys(c for s in sets for c in s.classes))
        plan = knowledge_for(kb_path, classes, sources, modality="image", update=update_kb,
                             scratch=out_dir / "kb-with-additions.sqlite")
        for line in plan.messages(kb_path):
            click.echo(line, err=True)
        if space_dir is not None and given("kb_path"):
            spaces[-1][1].kb = plan.path  # classes outside its saved centres: built from the KB the user named
        path = report_for_spaces(spaces, sets, out_dir, kb_path=plan.path, k=k, zeroshot=tables,
                                 figures=[(f.stem, str(f.resolve())) for f in figures], command=_command(),
                                 on_stage=_print_stage)
    except (UniBindError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    _print_gaps(path.with_name("report.json"))
    click.echo(f"wrote {path}")


def _say_trained_files(space_dir: Path | None, sets) -> None:
    """A set holding files the space was trained on gives optimistic after-training figures: said, per set."""
    from unibind.seen_files import seen_by_space

    for s in sets:
        seen = seen_by_space(space_dir, s.modality, s.items) if s.paths else None
        if seen:
            click.echo(f"warning: {len(seen)} of {len(s.items)} {s.modality} files of {s.name} trained {space_dir}: "
                       "its after-training figures are measured on training data (optimistic)", err=True)


def _print_gaps(report_json: Path) -> None:
    """One line per stage: each modality's gap to the text mean, alignment and uniformity (unibind.evaluation.gap)."""
    import json

    for stage in json.loads(report_json.read_text(encoding="utf-8"))["stages"]:
        if stage.get("gap"):
            cells = [f"{g['modality']} gap {g['gap_to_text']:.3f} align {g['alignment']:.3f} "
                     f"unif {g['uniformity']:.2f}" for g in stage["gap"]["rows"]]
            click.echo(f"{stage['title']}: " + "; ".join(cells))


def _space(space_dir: Path | None):
    from unibind.errors import UniBindError
    from unibind.space import Space

    if space_dir is None:
        return Space()
    try:
        return Space.from_dir(space_dir)
    except (UniBindError, OSError, ValueError) as exc:
        raise click.ClickException(f"{space_dir}: {exc}") from exc


def _print_stage(result, notes) -> None:
    """A stage's top-1 and balanced accuracy per modality and centres (stdout), its notes (stderr)."""
    from rich.console import Console
    from rich.table import Table

    for note in notes:
        click.echo(note, err=True)
    table = Table(title=result.title)
    for column in ("modality", "centres", "top-1 %", "balanced %", "items"):
        table.add_column(column, justify="left" if column in ("modality", "centres") else "right")
    for r in result.accuracy:
        balanced = f"{100 * r.balanced_accuracy:.1f}" if r.balanced_accuracy is not None else "–"
        table.add_row(r.modality, r.method, f"{100 * r.accuracy:.1f}", balanced, str(r.items))
    Console().print(table)


def _print_table(result) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{result.dataset}: {result.items} {result.modality} items, {len(result.classes)} classes "
                        f"({result.space.get('encoder')} + {result.space.get('adapter')})")
    for column in ("method", "centres/class", "top-1 %", "balanced %", "vs template mean", "what the centres are"):
        table.add_column(column, justify="left" if column in ("method", "what the centres are") else "right")
    from unibind.evaluation.zeroshot import best_baseline

    base_row = best_baseline(result.rows)
    base = base_row.accuracy if base_row is not None else None
    for r in result.rows:
        what = r.what + (f" ({r.detail})" if r.detail else "")
        if r.accuracy is None:
            table.add_row(r.title, "–", r.status, "–", "–", what)
            continue
        lo, hi = r.centres_per_class
        table.add_row(r.title, f"{lo}" if lo == hi else f"{lo}–{hi}", f"{100 * r.accuracy:.1f}",
                      f"{100 * r.balanced_accuracy:.1f}",
                      f"{100 * (r.accuracy - base):+.1f}" if base is not None else "–", what)
    Console().print(table)
