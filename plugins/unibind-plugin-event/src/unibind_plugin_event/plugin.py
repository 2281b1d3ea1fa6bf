"""What the event plugin registers: hook implementations only.

The core imports this module (the entry point) to learn what the plugin
provides, so it imports nothing heavy: specs name their loader, encoder,
adapter and settings as ``"module:attr"`` strings that load on first use.
Whether the optional AEDAT4 decoder is installed is checked with
``importlib.util.find_spec``, which finds a package without importing it, so
``unibind list-plugins`` can say so.
"""

from __future__ import annotations

from importlib.util import find_spec

from unibind import EncoderSpec, ModalitySpec, hookimpl

_PKG = "unibind_plugin_event"


def _aedat4_note() -> str:
    return "AEDAT4" if find_spec("aedat") is not None else "AEDAT4 (needs `pip install aedat`: not installed)"


@hookimpl
def unibind_modalities(register):
    register(ModalitySpec(
        name="event",
        factory=f"{_PKG}.loading:EventModality",
        settings=f"{_PKG}.settings:EventLoadSettings",
        suffixes=(".npy", ".npz", ".h5", ".hdf5", ".bin", ".aedat4"),
        media_types=("application/x-npy", "application/x-hdf5"),
        templates=f"{_PKG}.templates:EVENT_TEMPLATES",
        summary="event-camera streams (x, y, t, p) read with tonic/h5py: structured .npy, .npz, HDF5, "
                f"N-MNIST/N-Caltech101 .bin, {_aedat4_note()}; validated, time-ordered, polarity 0/1, "
                "long streams cut to a memory budget",
    ))


@hookimpl
def unibind_encoders(register):
    register(EncoderSpec(
        name="event-render",
        modality="event",
        dim=None,  # that of the image encoder it renders for
        default=True,
        factory=f"{_PKG}.encoder:build_event_render",
        settings=f"{_PKG}.settings:EventRenderSettings",
        weights="none of its own: those of the chosen image encoder (default: the image modality's default)",
        summary="EventCLIP-style ON-red/OFF-blue renderings of 3 time slices (or tonic ToFrame, ToImage, "
                "ToVoxelGrid, ToTimesurface) embedded by a registered image encoder, mean-pooled; offline",
    ))


@hookimpl
def unibind_commands(cli):
    from unibind_plugin_event.cli import event

    cli.add_command(event)
