"""``unibind bench fps``: added to the core's ``bench`` group through the ``unibind_commands`` hook."""

from __future__ import annotations

import click


@click.command("fps")
@click.option("--points", default=10_000, show_default=True, help="Points in the simulated cloud.")
@click.option("--samples", default=1024, show_default=True, help="Points farthest-point sampled.")
@click.option("--repeat", default=5, show_default=True, help="Timed runs per path; the median is shown.")
@click.option("--shape", default="torus", show_default=True, help="Simulated shape (sphere, box, cylinder, cone, torus).")
def fps_command(points: int, samples: int, repeat: int, shape: str) -> None:
    """Farthest-point sampling time of each available path, side by side (simulated cloud)."""
    from unibind_plugin_pointcloud.fps_bench import fps_timings

    rows = fps_timings(points, samples, repeat, shape)
    base = next((r.seconds for r in rows if r.seconds is not None), None)
    click.echo(f"FPS {points} -> {samples} points, simulated {shape}, median of {repeat}")
    click.echo(f"  {'path':<22} {'time':>10} {'vs torch':>9} {'coverage r':>11} {'same idx':>9}  valid")
    for r in rows:
        if r.unavailable:
            click.echo(f"  {r.path:<22} {'-':>10} {'-':>9} {'-':>11} {'-':>9}  unavailable: {r.unavailable}")
            continue
        time = f"{r.seconds * 1000:8.1f} ms" if r.seconds is not None else "-"
        speed = f"{base / r.seconds:8.1f}x" if r.seconds and base else "-"
        same = f"{r.same_as_torch:8.1%}" if r.same_as_torch is not None else "-"
        click.echo(f"  {r.path:<22} {time:>10} {speed:>9} {r.coverage:11.4f} {same:>9}  {r.valid}")
