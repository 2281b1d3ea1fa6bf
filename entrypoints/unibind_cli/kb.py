"""``unibind kb``: build, inspect and export the knowledge base; localize class centres.

Also ``centres``, a sub-command for the ``bench`` group (``unibind bench centres``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from unibind_cli.devices import device_options
from unibind_cli.errors import one_line
from unibind_cli.validation import POSITIVE, POSITIVE_FLOAT

KB_OPTION = click.option("--kb", "kb_path", default="knowledge-base.sqlite", show_default=True,
                         envvar="UNIBIND_KB", type=click.Path(dir_okay=False, path_type=Path),
                         help="Knowledge-base file (SQLite).")


def _open(path: Path, create: bool = False, read_only: bool = False):
    from unibind.errors import InputError
    from unibind.knowledge.store import KnowledgeBase

    try:
        return KnowledgeBase(path, create=create, read_only=read_only)
    except InputError as exc:
        raise click.ClickException(str(exc)) from exc


def _classes(value: str | None, kb=None):
    from unibind.knowledge.sources import read_classes

    if value is None:
        if kb is None:
            raise click.UsageError("give --classes")
        return [c.ref for c in kb.classes() if c.descriptions]
    try:
        refs = read_classes(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--classes") from exc
    return [kb.resolve(r) for r in refs] if kb is not None else refs


@click.group()
def kb() -> None:
    """The knowledge base: class descriptions with provenance, and class centres (ECL)."""


@kb.command()
@KB_OPTION
@click.option("--classes", required=True, help="File (one class per line, optional leading WordNet id) "
              "or a comma-separated list.")
@click.option("--source", "sources", multiple=True, required=True, metavar="NAME[:key=value,...]",
              help="Description source and its settings; repeat for several.")
@click.option("--per-class", default=50, show_default=True, type=POSITIVE,
              help="Descriptions to keep per class and source.")
@click.option("--modality", help="Ask for descriptions of this modality (templates: its prompt set).")
@click.option("--seed", default=0, show_default=True)
@click.option("--commit-every", default=32, show_default=True, type=POSITIVE,
              help="Items per transaction (resume granularity).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def build(kb_path: Path, classes: str, sources: tuple[str, ...], per_class: int, modality: str | None,
          seed: int, commit_every: int, as_json: bool) -> None:
    """Run description sources over classes; resumable (a rerun finishes an interrupted build)."""
    from unibind.errors import UniBindError
    from unibind.knowledge.builder import build_knowledge_base
    from unibind.knowledge.sources import parse_source_arg

    try:
        parsed = [parse_source_arg(s) for s in sources]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--source") from exc
    refs = _classes(classes)
    with _open(kb_path, create=True) as store:
        try:
            report = build_knowledge_base(store, refs, parsed, per_class=per_class, modality=modality,
                                          seed=seed, commit_every=commit_every, on_job=_job_done_line())
        except (UniBindError, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc
    _print_report(report, len(refs), as_json)


@kb.command()
@KB_OPTION
@click.argument("inputs", nargs=-1, required=True)
@click.option("--source", required=True, metavar="NAME[:key=value,...]", help="Captioner and its settings.")
@click.option("--label", help="Class of every input (default: the folder each file sits in, "
              "ImageFolder style).")
@click.option("--classes", help="File or comma-separated list naming the classes (optional WordNet ids); "
              "a folder named like a class's name or id gets that class.")
@click.option("--per-sample", default=1, show_default=True, type=POSITIVE, help="Captions to keep per sample.")
@click.option("--seed", default=0, show_default=True)
@click.option("--batch-size", default=8, show_default=True, type=POSITIVE, help="Samples per captioner call and commit.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def caption(kb_path: Path, inputs: tuple[str, ...], source: str, label: str | None, classes: str | None,
            per_sample: int, seed: int, batch_size: int, as_json: bool) -> None:
    """Caption sample files (INPUTS: files or folders); resumable, captions stored under each file's class."""
    from unibind.errors import UniBindError
    from unibind.knowledge.builder import build_captions
    from unibind.knowledge.sources import parse_source_arg
    from unibind.plugins import get_registry

    try:
        parsed = parse_source_arg(source)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--source") from exc
    registry = get_registry()
    try:
        modalities = registry.get("description_source", parsed[0]).modalities
    except UniBindError as exc:
        raise click.ClickException(str(exc)) from exc
    known = {key: ref for ref in (_classes(classes) if classes else []) for key in (ref.key, ref.name)}
    samples, skipped = _labelled_samples(inputs, registry, modalities, label, known)
    for path, reason in skipped:
        click.echo(f"skipped {path}: {reason}", err=True)
    if not samples:
        raise click.ClickException("no sample files to caption")
    with _open(kb_path, create=True) as store:
        try:
            report = build_captions(store, samples, parsed, per_sample=per_sample, seed=seed,
                                    batch_size=batch_size, registry=registry)
        except (UniBindError, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc
    _print_report(report, len({s.label.key for s in samples}), as_json)  # type: ignore[union-attr]


def _job_done_line():
    """One stderr line per finished class: an LLM build runs for minutes per class, and a log showed
    nothing (no bar below 16 classes) until the end."""
    import time

    from unibind.progress import status

    last = [time.monotonic()]

    def said(source: str, ref, state) -> None:
        now, rejected = time.monotonic(), sorted(state.rejected.items(), key=lambda kv: (-kv[1], kv[0]))
        status(f"{source}: {ref.name}: {state.kept} kept of {state.generated} generated"
               + (f" (rejected: {', '.join(f'{k} {v}' for k, v in rejected)})" if rejected else "")
               + f"; {now - last[0]:.0f} s")
        last[0] = now

    return said


def _print_report(report, n_classes: int, as_json: bool) -> None:
    """The build summary (table or JSON); errors on stderr and exit status 1 when a job failed."""
    if as_json:
        from unibind.secrets import redact

        click.echo(redact(report.model_dump_json(indent=2)))
    else:
        _summary_table(report, n_classes)
    if report.failed:
        for summary in report.sources:
            for error in summary.errors[:20]:
                click.echo(f"{summary.source}: {one_line(error)}", err=True)
        sys.exit(1)
    empty = [s for s in report.sources if s.empty]
    if empty:  # e.g. a server answering HTML with status 200: every text rejected, nothing kept
        said = "; ".join(f"{s.source} kept no description for {len(s.empty)} class(es) ({', '.join(s.empty[:5])}"
                         f"{', ...' if len(s.empty) > 5 else ''}), rejected: "
                         + (", ".join(f"{k} {v}" for k, v in s.rejected.items()) or "none") for s in empty)
        raise click.ClickException(said)


def _labelled_samples(inputs, registry, modalities, label, known):
    """Files given or inside folders given (those a wanted modality reads), each with its class."""
    from unibind.knowledge.records import ClassRef, SampleRef

    wanted = [s for s in registry.by_kind("modality") if not modalities or s.name in modalities]
    suffixes = tuple(x for s in wanted for x in s.suffixes)
    files: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            files += sorted(p for p in item.rglob("*") if (p.is_file() or (p.is_symlink() and not p.exists()))
                            and p.name.lower().endswith(suffixes))  # a dangling link is reported as skipped
        else:
            files.append(item)
    samples, skipped = [], []
    for path in files:
        try:
            modality = registry.modality_for_path(path).name
            if modalities and modality not in modalities:
                raise ValueError(f"the captioner reads {', '.join(modalities)}, not {modality}")
            name = label or path.parent.name
            ref = known.get(name) or ClassRef.parse(name)
            samples.append(SampleRef.from_path(path, modality, label=ref))
        except (OSError, ValueError, LookupError) as exc:
            skipped.append((path, str(exc)))
    return samples, skipped

def _summary_table(report, n_classes: int) -> None:
    """Plain aligned columns: readable in a terminal of any width and in a log file."""
    from collections import Counter

    names = Counter(s.source for s in report.sources)
    header = ("source", "model", "jobs", "skipped", "failed", "generated", "kept", "rejected")
    rows = [header]
    for s in report.sources:
        label = s.source + (f" ({s.settings_hash[:6]})" if names[s.source] > 1 else "")
        rows.append((label, s.model or "-", str(s.jobs), str(s.skipped), str(s.failed), str(s.generated),
                     str(s.kept), str(sum(s.rejected.values()))))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    click.echo(f"knowledge base build: {n_classes} classes")
    for n, row in enumerate(rows):
        cells = [cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        click.echo("  ".join(cells))
        if n == 0:
            click.echo("  ".join("-" * w for w in widths))
    for s, row in zip(report.sources, rows[1:]):
        if s.rejected:
            click.echo(f"rejected by {row[0]}: " + ", ".join(f"{k} {v}" for k, v in s.rejected.items()))


@kb.command()
@KB_OPTION
@click.argument("class_name")
@click.option("--source", "sources", multiple=True, help="Only these sources.")
@click.option("--limit", default=0, show_default=True, help="Show at most this many (0: all).")
@click.option("--json", "as_json", is_flag=True, help="One JSON record per line.")
def show(kb_path: Path, class_name: str, sources: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Show the descriptions of CLASS_NAME (a name or a WordNet id)."""
    with _open(kb_path, read_only=True) as store:
        refs = store.find_classes(class_name)
        if not refs:
            names = sorted({c.name for c in store.classes()})
            shown = ", ".join(names[:40]) + (f", ... ({len(names) - 40} more)" if len(names) > 40 else "")
            raise click.ClickException(f"no class {class_name!r} in {kb_path}; it has {len(names)}: {shown}")
        records = store.descriptions(refs, sources=sources or None)
    shown = records[:limit] if limit else records
    if as_json:
        for d in shown:
            click.echo(d.model_dump_json())
        return
    for ref in refs:
        own = [d for d in shown if d.class_ref.key == ref.key]
        total = sum(d.class_ref.key == ref.key for d in records)
        click.echo(f"{ref.name}" + (f" ({ref.class_id})" if ref.class_id else "") + f": {total} texts")
        for d in own:
            p = d.provenance
            tag = p.source + (f"/{p.model}" if p.model else "") + (f" [{d.modality}]" if d.modality else "")
            kind = " caption" if d.kind == "sample_caption" else ""
            click.echo(f"  {d.id:>6} {tag}{kind}: {d.text}")
    if limit and len(records) > limit:
        click.echo(f"  ... {len(records) - limit} more (--limit 0 shows all)")


@kb.command()
@click.option("--modality", help="List this modality's templates (default: the count for every modality).")
@click.option("--json", "as_json", is_flag=True)
def templates(modality: str | None, as_json: bool) -> None:
    """The prompt templates of each registered modality (the 'templates' source; the template-mean baseline)."""
    from unibind.errors import UniBindError
    from unibind.knowledge.templates import TemplateSource
    from unibind.plugins import get_registry

    registry = get_registry()
    source = TemplateSource(registry=registry)
    names = [modality] if modality else [spec.name for spec in registry.by_kind("modality")]
    if modality and modality not in {spec.name for spec in registry.by_kind("modality")}:
        known = ", ".join(spec.name for spec in registry.by_kind("modality"))
        raise click.BadParameter(f"no modality named {modality!r} (registered: {known})", param_hint="--modality")
    try:
        sets = {name: source.templates(name) for name in names}
    except (UniBindError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(sets if modality else {n: len(t) for n, t in sets.items()}, indent=2))
        return
    for name, found in sets.items():
        click.echo(f"{name}: {len(found)} templates, canonical prompt {source.canonical_prompt('{}', name)!r}")
        if modality:
            click.echo("\n".join(f"  {t}" for t in found))


@kb.command()
@KB_OPTION
@click.option("--json", "as_json", is_flag=True)
def stats(kb_path: Path, as_json: bool) -> None:
    """Totals: classes, texts per source and model, jobs, rejections by reason."""
    with _open(kb_path, read_only=True) as store:
        figures = store.stats()
    if as_json:
        click.echo(json.dumps(figures, indent=2))
        return
    pc = figures["per_class"]
    click.echo(f"{figures['path']}: {figures['classes']} classes, {figures['descriptions']} class "
               f"descriptions ({pc['min']}-{pc['max']} per class, mean {pc['mean']:.1f}), "
               f"{figures['captions']} captions")
    for source, rows in figures["sources"].items():
        for row in rows:
            model = f" / {row['model']}" if row["model"] else ""
            click.echo(f"  {source}{model} ({row['plugin'] or '?'}) {row['kind']}: {row['texts']} texts, "
                       f"{row['classes']} classes")
    jobs = figures["jobs"]
    click.echo(f"jobs: {jobs['finished']}/{jobs['total']} finished, {jobs['failed']} failed")
    if figures["rejected"]:
        click.echo("rejected: " + ", ".join(f"{k} {v}" for k, v in figures["rejected"].items()))


@kb.command()
@KB_OPTION
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="File (default: stdout).")
@click.option("--classes", help="Only these classes (file or comma-separated list).")
@click.option("--source", "sources", multiple=True, help="Only these sources.")
@click.option("--kind", type=click.Choice(["class_description", "sample_caption"]))
def export(kb_path: Path, out: Path | None, classes: str | None, sources: tuple[str, ...],
           kind: str | None) -> None:
    """Export descriptions as JSON lines (one validated record each)."""
    from unibind.atomic import atomic_open

    with _open(kb_path, read_only=True) as store:
        refs = _classes(classes, store) if classes else None
        if out is None:
            store.export_jsonl(sys.stdout, refs, kind, sources or None)  # type: ignore[arg-type]
            return
        with atomic_open(out) as fh:
            n = store.export_jsonl(fh, refs, kind, sources or None)  # type: ignore[arg-type]
    click.echo(f"exported {n} records to {out}", err=True)


@kb.command()
@KB_OPTION
@click.option("--classes", help="File or comma-separated list (default: every class with descriptions).")
@click.option("--source", "sources", multiple=True, help="Only descriptions from these sources.")
@click.option("--modality", help="Only texts for this modality (and those for none in particular).")
@click.option("--text-encoder", help="Text encoder name (default: the default text encoder).")
@click.option("--limit", default=20, show_default=True, help="Show at most this many suspects (0: all).")
@click.option("--json", "as_json", is_flag=True, help="The whole report as JSON.")
@device_options
def check(kb_path: Path, classes: str | None, sources: tuple[str, ...], modality: str | None,
          text_encoder: str | None, limit: int, as_json: bool) -> None:
    """List descriptions that read as another class's (nearer its centre than their own). Changes nothing.

    The build filters check form, not meaning: a wrong sentence that names its class is kept. A suspect
    here is worth reading, not proof: near classes (sandal, sneaker) lean on each other's words.
    """
    from unibind.errors import UniBindError
    from unibind.knowledge.audit import audit_descriptions
    from unibind.knowledge.textcache import TextEmbedder
    from unibind.space import Space

    store = _open(kb_path, read_only=True)
    try:
        refs = _classes(classes, store) if classes else None
        embedder = TextEmbedder.from_space(Space(text_encoder=text_encoder))
        report = audit_descriptions(store, embedder, refs, sources=sources or None, modality=modality)
    except (UniBindError, ValueError) as exc:
        raise click.ClickException(f"{kb_path}: {exc}") from exc
    finally:
        store.close()
    if as_json:
        click.echo(report.model_dump_json(indent=2))
        return
    click.echo(f"{kb_path}: {report.descriptions} descriptions of {report.classes} classes audited, "
               f"{len(report.suspects)} nearer another class than their own")
    for s in report.suspects[:limit] if limit else report.suspects:
        click.echo(f"  {s.id:>6} {s.class_name} -> {s.leans_to} ({s.own:.3f} < {s.other:.3f}) {s.source}: {s.text}")
    if limit and len(report.suspects) > limit:
        click.echo(f"  ... {len(report.suspects) - limit} more (--limit 0 shows all)")


@kb.command()
@KB_OPTION
@click.option("--classes", help="File or comma-separated list (default: every class with descriptions).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to save them (.safetensors).")
@click.option("--method", type=click.Choice(["ecl", "name", "templates", "mean"]), default="ecl",
              show_default=True, help="ecl (the paper) or a baseline.")
@click.option("--k", default=50, show_default=True, type=POSITIVE, help="Centres per class (ecl).")
@click.option("--modality", default="image", show_default=True,
              help="Picks the canonical prompt and templates.")
@click.option("--prompt", help="Canonical prompt with {} for the class name (default: the modality's).")
@click.option("--source", "sources", multiple=True, help="Only descriptions from these sources (default: every "
              "source but the prompt templates, which are the baseline; name 'templates' to let them in).")
@click.option("--reduce", type=click.Choice(["max", "mean", "softmax"]), default="max", show_default=True,
              help="Default scoring over a class's centres.")
@click.option("--temperature", default=0.05, show_default=True, type=POSITIVE_FLOAT, help="softmax scoring temperature.")
@click.option("--on-empty", type=click.Choice(["error", "prompt"]), default="error", show_default=True,
              help="A class without descriptions: fail, or use its canonical prompt.")
@click.option("--text-encoder", help="Text encoder name (default: the default text encoder).")
@click.option("--cache", type=click.Path(dir_okay=False, path_type=Path),
              help="Text-embedding cache file (default: in the UniBind cache directory).")
@device_options
def centres(kb_path: Path, classes: str | None, out: Path, method: str, k: int, modality: str,
            prompt: str | None, sources: tuple[str, ...], reduce: str, temperature: float, on_empty: str,
            text_encoder: str | None, cache: Path | None) -> None:
    """Localize class centres in the knowledge base (or build a baseline) and save them."""
    from unibind.errors import UniBindError
    from unibind.knowledge.centres import CentreSettings, describe_centres, localize
    from unibind.knowledge.textcache import TextEmbedder

    try:
        settings = CentreSettings(method=method, k=k, modality=modality, prompt=prompt, sources=list(sources),
                                  reduce=reduce, temperature=temperature, on_empty=on_empty)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    needs_kb = method in ("ecl", "mean")
    store = _open(kb_path, read_only=True) if needs_kb or classes is None else None
    try:
        refs = _classes(classes, store)
        if not refs:
            raise click.ClickException(f"{kb_path}: no class has descriptions; build some with "
                                       "`unibind kb build`, or name the classes with --classes")
        from unibind.space import Space

        embedder = TextEmbedder.from_space(Space(text_encoder=text_encoder), cache=cache if cache else True)
        result = localize(refs, embedder, settings, kb=store)
        result.save(out)
    except UniBindError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        if store is not None:
            store.close()
    click.echo(f"saved {describe_centres(result)} to {out}")
    click.echo(f"text embeddings: {embedder.looked_up} looked up, {embedder.encoded} encoded "
               f"(the rest from the cache)")


@click.command("centres")
@click.option("--classes", "n_classes", default=1000, show_default=True)
@click.option("--k", default=50, show_default=True)
@click.option("--dim", default=384, show_default=True)
@click.option("--queries", default=100_000, show_default=True)
@click.option("--reduce", type=click.Choice(["max", "mean", "softmax"]), default="max", show_default=True)
@click.option("--chunk-mb", default=64, show_default=True, help="Working-memory budget of one chunk.")
@click.option("--json", "as_json", is_flag=True)
def bench_centres(n_classes: int, k: int, dim: int, queries: int, reduce: str, chunk_mb: int,
                  as_json: bool) -> None:
    """Centre scoring (matmul + segmented max) next to a bare torch.mm of the same shapes, as a ratio."""
    from unibind.knowledge.centres import bench_centres as run

    f = run(n_classes, k, dim, queries, reduce=reduce, chunk_bytes=chunk_mb * 2**20)  # type: ignore[arg-type]
    if as_json:
        click.echo(json.dumps(f, indent=2))
        return
    mb = 2**20
    click.echo(f"C={f['classes']} classes x k={f['k']} centres ({f['centres_per_class']['min']}-"
               f"{f['centres_per_class']['max']} real, rest masked), d={f['dim']}, {f['queries']} queries, "
               f"reduce={f['reduce']}, {f['threads']} threads, chunks of {f['chunk_rows']} queries")
    click.echo(f"  bare torch.mm (same shapes)   : {f['bare_queries_per_s']:10.0f} queries/s "
               f"({f['bare_gflops']:.1f} GFLOP/s)")
    ours = f"centre scoring (mm + seg. {f['reduce']})"
    click.echo(f"  {ours:30}: {f['ours_queries_per_s']:10.0f} queries/s")
    click.echo(f"  ratio                         : {f['ratio']:10.3f}")
    click.echo(f"  working memory per chunk      : {f['chunk_bytes'] / mb:10.1f} MiB (chunk arithmetic)")
    click.echo(f"  resident-set growth, scoring  : {f['rss_growth_bytes'] / mb:10.1f} MiB (sampled from "
               f"/proc/self/statm; ru_maxrss growth {f['maxrss_growth_bytes'] / mb:.1f} MiB)")
    click.echo(f"  inputs: centres {f['centre_bytes'] / mb:.1f} MiB, queries {f['query_bytes'] / mb:.1f} "
               f"MiB; a full [N, C] score matrix would be {f['full_output_bytes'] / mb:.1f} MiB")
    if f["agrees_with_reference"] is not None:
        click.echo(f"  agrees with masked reference  : {f['agrees_with_reference']}")
