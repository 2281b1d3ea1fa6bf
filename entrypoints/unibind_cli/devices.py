"""``--device`` and ``--precision``: one pair of options on every command that runs a model.

The choice holds for the whole command (every Space, encoder, scorer and
trainer it builds: :mod:`unibind.devices`), and ends with it. A misspelt or
absent device is refused where it enters, naming the option (click adds
``UNIBIND_DEVICE`` when the value came from there).
"""

from __future__ import annotations

import functools
from typing import Any

import click


class Device(click.ParamType):
    """cpu, cuda, cuda:N, mps or auto; refused unless this machine has it."""

    name = "device"

    def get_metavar(self, *_: Any, **__: Any) -> str:
        return "[auto|cpu|cuda|cuda:N|mps]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from unibind import devices

        try:
            text = devices.check_syntax(value)
            if text == "meta":  # for tests building models without memory; not a place to run a command
                raise devices.DeviceError(f"unknown device {value!r}: use one of {', '.join(devices.DEVICE_CHOICES)}")
            devices.resolve(text)
        except devices.DeviceError as exc:
            self.fail(str(exc), param, ctx)
        return text


def device_options(command: Any) -> Any:
    """Add ``--device`` and ``--precision`` to a click command function; both apply while it runs."""

    @functools.wraps(command)
    def run(*args: Any, device: str, precision: str, **kwargs: Any) -> Any:
        from unibind import devices

        ctx = click.get_current_context()
        try:
            devices.resolve_precision(precision, devices.resolve(device))
        except devices.DeviceError as exc:
            param = next(p for p in ctx.command.params if p.name == "precision")
            raise click.BadParameter(str(exc), ctx, param) from None
        with devices.chosen(device, precision):
            return command(*args, **kwargs)

    from unibind.devices import PRECISIONS

    run = click.option("--precision", type=click.Choice(PRECISIONS), default="fp32",
                       show_default=True, envvar="UNIBIND_PRECISION", show_envvar=True,
                       help="Inference precision of the encoders: autocast to bf16/fp16 (fp16 needs a GPU).")(run)
    return click.option("--device", type=Device(), default="auto", show_default=True, envvar="UNIBIND_DEVICE",
                        show_envvar=True, help="Where models run and scores are computed; auto: cuda, else mps, "
                        "else cpu.")(run)
