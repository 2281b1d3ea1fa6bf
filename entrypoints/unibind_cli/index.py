"""``unibind index build|add|remove|info`` and ``unibind search``: a FAISS index over a space."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from unibind_cli.devices import device_options
from unibind_cli.embed import _report_failures

_SET_HELP = ("Index setting KEY=VALUE (repeatable), e.g. kind=ivf, nprobe=64, exact_below=20000; "
             "see unibind.index.settings.IndexSettings.")


def _settings(pairs, base=None):
    from unibind.index.settings import parse_assignments

    try:
        return parse_assignments(pairs, base)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--set") from None


def _space(space_dir: Path | None, index=None):
    """--space, else the space the index records (a directory, or the embedded default)."""
    from unibind.space import Space

    if space_dir is None and index is not None and index.record.space.get("source") != "embedded default":
        space_dir = Path(index.record.space["source"])
        if not (space_dir / "space.json").is_file():
            raise click.ClickException(f"{space_dir}: the index's space is gone; give it with --space")
    return (Space() if space_dir is None else Space.from_dir(space_dir)), str(space_dir or "embedded default")


def _load(index_path: Path, space_dir: Path | None, *, need_space: bool = True):
    from unibind.index.query import check_space
    from unibind.index.store import SearchIndex

    index = SearchIndex.load(index_path)
    if not need_space:
        return index, None
    space, label = _space(space_dir, index)
    check_space(index, space, index_path, label)
    return index, space


def _errors(func):
    """Deliberate errors (bad file, wrong space, bad setting) end in one Error line, never a traceback."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from unibind.errors import UniBindError

        try:
            return func(*args, **kwargs)
        except UniBindError as exc:
            raise click.ClickException(str(exc)) from None
    return wrapper


def _grow(index, space, sources, modality, out: Path, batch_size: int) -> None:
    from unibind.index.gallery import index_entries, read_sources

    entries, failures = read_sources(list(sources), space.registry, modality)
    if not entries:
        _report_failures(failures)
        raise click.ClickException(f"{', '.join(map(str, sources))}: no file any installed modality reads")
    done = index_entries(index, space, entries, save_to=out, batch_size=batch_size)
    failures += done.failures
    added = ", ".join(f"{n} {m}" for m, n in sorted(done.by_modality.items())) or "nothing"
    click.echo(f"added {added}; {done.already} already indexed; {len(index)} items in {out}")
    _report_failures(failures)
    if not len(index):
        raise click.ClickException("no file could be embedded; nothing was written")
    if failures:
        sys.exit(1)


@click.group()
def index() -> None:
    """A search index (FAISS) over files of any modality: build, add, remove, info."""


@index.command("build")
@click.argument("sources", nargs=-1, required=True)
@click.option("--space", "space_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Space directory (default: the embedded default space).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Index file to write.")
@click.option("--modality", help="Force one modality (default: by file suffix, or the manifest's 'modality').")
@click.option("--set", "-s", "pairs", multiple=True, help=_SET_HELP)
@click.option("--force", is_flag=True, help="Replace an existing index file.")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1))
@device_options
@_errors
def build(sources, space_dir, out, modality, pairs, force, batch_size) -> None:
    """Index SOURCES (folders, JSONL manifests of {"path", "modality"}, files) into --out."""
    from unibind.index.identity import space_identity
    from unibind.index.store import SearchIndex

    settings = _settings(pairs)
    if out.exists() and not force:
        raise click.ClickException(f"{out} exists; add files with `unibind index add {out} ...`, "
                                   "or replace it with --force")
    space, _ = _space(space_dir)
    fresh = SearchIndex.new(space.dim, space_identity(space), settings,
                            sources=[str(Path(s).resolve()) for s in sources])
    if out.exists():
        out.unlink()
    _grow(fresh, space, sources, modality, out, batch_size)


@index.command("add")
@click.argument("index_path", metavar="INDEX", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("sources", nargs=-1, required=True)
@click.option("--space", "space_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Space directory (default: the one the index was built with; it must match).")
@click.option("--modality", help="Force one modality (default: by file suffix).")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1))
@device_options
@_errors
def add(index_path, sources, space_dir, modality, batch_size) -> None:
    """Add the files of SOURCES not yet in INDEX (also resumes a killed build)."""
    found, space = _load(index_path, space_dir)
    found.record.sources = list(dict.fromkeys(found.record.sources + [str(Path(s).resolve()) for s in sources]))
    _grow(found, space, sources, modality, index_path, batch_size)


@index.command("remove")
@click.argument("index_path", metavar="INDEX", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("paths", nargs=-1, required=True)
@_errors
def remove(index_path, paths) -> None:
    """Delete PATHS (files, or every item under a folder) from INDEX."""
    import os

    found, _ = _load(index_path, None, need_space=False)
    wanted = [str(Path(p).resolve()) for p in paths]
    folders = tuple(w.rstrip(os.sep) + os.sep for w, p in zip(wanted, paths) if Path(p).is_dir())
    targets = [p for p in found.paths() if p in wanted or p.startswith(folders or ("\0",))]
    missing = [p for p, w in zip(paths, wanted) if not Path(p).is_dir() and w not in targets]
    gone = found.remove(targets)
    if gone:
        found.save(index_path)
    click.echo(f"removed {len(gone)} item(s); {len(found)} left in {index_path}")
    if missing:
        raise click.ClickException(f"not in the index: {', '.join(missing)}")


@index.command("info")
@click.argument("index_path", metavar="INDEX", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@_errors
def info(index_path, as_json) -> None:
    """What INDEX holds: items per modality, index kinds, settings and the space it was built with."""
    from unibind.index.store import SearchIndex

    record = SearchIndex.read_record(index_path)
    if as_json:
        click.echo(record.model_dump_json(indent=2))
        return
    total = sum(part.count for part in record.modalities.values())
    click.echo(f"{index_path}: {total} items, dim {record.dim}, unibind {record.unibind_version}")
    click.echo(f"space: {record.space.get('source')} (identity {record.space.get('hash')})")
    for modality, part in sorted(record.modalities.items()):
        extra = f", trained on {part.trained_on}" if part.trained_on else ""
        click.echo(f"  {modality}: {part.count} items, {part.kind}{extra}")
    click.echo("settings: " + ", ".join(f"{k}={v}" for k, v in record.settings.model_dump().items()))


@click.command()
@click.argument("index_path", metavar="INDEX", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("query")
@click.option("--modality", help="Only hits of this modality.")
@click.option("--k", default=20, show_default=True, type=click.IntRange(1, 10_000), help="Hits to return.")
@click.option("--balanced", is_flag=True, help="The top --k hits of EACH modality (the paper's Fig. 5 view).")
@click.option("--text", "as_text", is_flag=True, help="Treat QUERY as text even if a file has that name.")
@click.option("--space", "space_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Space directory (default: the one the index was built with; it must match).")
@click.option("--set", "-s", "pairs", multiple=True, help="Search-time setting, e.g. nprobe=64 or ef_search=128.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: query, hits, calibration.")
@device_options
@_errors
def search(index_path, query, modality, k, balanced, as_text, space_dir, pairs, as_json) -> None:
    """Search INDEX with QUERY: text ("a dog barking") or a file of any modality."""
    from unibind.index import query as q

    found, space = _load(index_path, space_dir)
    settings = _settings(pairs, found.settings)
    calibrators = {}
    if getattr(space, "space_dir", None) is not None:
        from unibind.calibration.store import applicable_calibrators

        calibrators, stale = applicable_calibrators(space.space_dir, space.registry)
        for m, why in stale.items():
            click.echo(f"probabilities: uncalibrated for {m}: the space's calibrator does not apply: {why}", err=True)
    results = q.search(found, space, query, k=k, modality=modality, balanced=balanced,
                       calibrators=calibrators, settings=settings, as_text=as_text)
    if as_json:
        click.echo(json.dumps({"query": results.query, "query_modality": results.query_modality,
                               "calibrated": results.calibrated, "hits": [h.as_dict() for h in results.hits]}))
        return
    said = ", ".join(f"{m}: {'calibrated probability' if c else 'uncalibrated cosine'}"
                     for m, c in sorted(results.calibrated.items()))
    click.echo(f"{results.query_modality} query {results.query!r}: {len(results.hits)} hits ({said})")
    for hit in results.hits:
        p = f"  p={hit.probability:.3f}" if hit.probability is not None else ""
        click.echo(f"{hit.rank:>4}  {hit.modality:<10} cos={hit.cosine:+.4f}{p}  {hit.path}")


@click.command("index")
@click.option("--sizes", default="100000,1000000", show_default=True, help="Gallery sizes, comma-separated.")
@click.option("--kinds", default="flat,ivf,hnsw", show_default=True, help="Index kinds to compare with flat.")
@click.option("--queries", default=1000, show_default=True, type=click.IntRange(10))
@click.option("--noise", default=0.5, show_default=True, type=click.FloatRange(0, min_open=True),
              help="Noise norm of each copy, in median nearest-neighbour distances of the real vectors.")
@click.option("--real-limit", type=click.IntRange(100), help="Embed only this many Fashion-MNIST test images.")
@click.option("--nprobes", default="8,16,32,64", show_default=True, help="IVF nprobe values to measure.")
@click.option("--ef-searches", default="32,64,128", show_default=True, help="HNSW ef_search values to measure.")
@click.option("--set", "-s", "pairs", multiple=True, help=_SET_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print rows as JSON lines.")
@device_options
@_errors
def bench_index(sizes, kinds, queries, noise, real_limit, nprobes, ef_searches, pairs, as_json) -> None:
    """Flat vs IVF vs HNSW: build time, size, queries/s, recall@10 (simulated from real embeddings)."""
    from dataclasses import asdict

    from unibind.index.bench import NAME, real_embeddings
    from unibind.index.bench import bench_index as run
    from unibind.space import Space

    size_list, probe_list, ef_list = (_int_list(v, name) for v, name in
                                      ((sizes, "--sizes"), (nprobes, "--nprobes"), (ef_searches, "--ef-searches")))
    kind_list = [k.strip() for k in kinds.split(",") if k.strip()]
    if not size_list or min(size_list) < 100 or not set(kind_list) <= {"flat", "ivf", "hnsw"}:
        raise click.BadParameter("sizes >= 100, kinds among flat, ivf, hnsw", param_hint="--sizes/--kinds")
    settings = _settings(pairs)
    import faiss

    real = real_embeddings(Space(), real_limit)
    click.echo(f"gallery: {NAME}; {len(real)} real vectors, d={real.shape[1]}, noise {noise}; "
               f"{queries} queries (noisy copies not in the gallery); faiss {faiss.__version__}, "
               f"{faiss.omp_get_max_threads()} threads")
    if not as_json:
        click.echo(f"{'size':>9} {'kind':<5} {'search setting':<26} {'build s':>8} {'MB':>8} {'queries/s':>10} "
                   f"{'recall@10':>9} {'x flat':>7}")

    def show(row):
        if as_json:
            click.echo(json.dumps(asdict(row)))
        else:
            click.echo(f"{row.size:>9} {row.kind:<5} {row.search_setting:<26} {row.build_s:>8.1f} "
                       f"{row.index_mb:>8.1f} {row.queries_per_s:>10.1f} {row.recall_at_10:>9.3f} "
                       f"{row.speedup_vs_flat:>7.1f}")

    run(real, size_list, kinds=kind_list, queries=queries, noise=noise, settings=settings, report=show,
        nprobes=probe_list, ef_searches=ef_list)


def _int_list(text: str, option: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of positive integers", param_hint=option)
    return values
