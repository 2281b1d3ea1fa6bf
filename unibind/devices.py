"""One device setting for every model, scorer and trainer, and how batches get there.

A device is ``cpu``, ``cuda``, ``cuda:N``, ``mps`` or ``auto`` (the best one
available: cuda, then mps, then cpu). An explicit choice (``Space(device=...)``,
a command's ``--device``) wins over ``UNIBIND_DEVICE``, which wins over ``auto``.
Under ``torchrun`` a plain ``cuda`` (or ``auto`` on a GPU machine) means the
local rank's GPU, so one command line serves every rank.

Inference precision (``fp32``, ``bf16``, ``fp16``; ``UNIBIND_PRECISION``) is
autocast on the device's type; fp32 (the default) runs no autocast at all.

The device never enters an identity or a cache key: embeddings are the same
vectors on any device (up to float rounding), so a cache filled on the CPU
serves a GPU run. A precision other than fp32 does change features, and is
part of the feature and text caches' keys (:mod:`unibind.features.extract`,
:mod:`unibind.knowledge.textcache`).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from unibind.errors import UniBindError

if TYPE_CHECKING:
    import torch

DEVICE_ENV = "UNIBIND_DEVICE"
PRECISION_ENV = "UNIBIND_PRECISION"
#: What a user may name (``meta`` is accepted from code too: tests build models without memory).
DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
PRECISIONS = ("fp32", "bf16", "fp16")
_SYNTAX = re.compile(r"^(auto|cpu|mps|meta|cuda(:\d+)?)$")

#: The process-wide choice a command made (``--device``/``--precision``); None: ask the environment.
_chosen: dict[str, str | None] = {"device": None, "precision": None}


class DeviceError(UniBindError, ValueError):
    """A device or precision that is misspelt, or that this machine does not have."""


def check_syntax(value: str) -> str:
    """``value`` normalised (``CUDA:0`` -> ``cuda:0``), or a DeviceError saying what is accepted."""
    text = str(value).strip().lower()
    if not _SYNTAX.match(text):
        raise DeviceError(f"unknown device {value!r}: use one of {', '.join(DEVICE_CHOICES)}")
    return text


def requested(value: str | torch.device | None = None) -> str:
    """The device asked for, before resolution: ``value``, else the command's choice, else the environment."""
    if value is not None:
        return check_syntax(str(value))
    if _chosen["device"]:
        return check_syntax(_chosen["device"])
    try:
        return check_syntax(os.environ.get(DEVICE_ENV) or "auto")
    except DeviceError as exc:
        raise DeviceError(f"{DEVICE_ENV}: {exc}") from None


def best_available() -> str:
    """cuda if there is a GPU torch can use, else Apple's mps, else cpu."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def unavailable(device: torch.device) -> str | None:
    """Why ``device`` cannot be used on this machine, or None."""
    import torch

    if device.type == "cuda":
        if not torch.cuda.is_available():
            return "cuda is not available here (torch.cuda.is_available() is False: no GPU, no driver, " \
                   "or a CPU-only torch build)"
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            return f"{device} does not exist: this machine has {count} CUDA device(s) (cuda:0..cuda:{count - 1})"
    elif device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            return "mps is not available here (torch.backends.mps.is_available() is False: not an Apple GPU)"
    return None


def _local_world_size() -> int:
    value = os.environ.get("LOCAL_WORLD_SIZE", "")
    return int(value) if value.isdigit() else 1


def resolve(value: str | torch.device | None = None) -> torch.device:
    """The torch device ``value`` (or the current setting) means here; a DeviceError if it is not available.

    A plain ``cuda`` under torchrun (``LOCAL_RANK`` set) is the local rank's GPU; an explicit
    ``cuda:N`` there is refused when several ranks share the machine (they would all land on N).
    """
    import torch

    text = requested(value)
    if text == "auto":
        text = best_available()
    device = torch.device(text)
    local = os.environ.get("LOCAL_RANK", "")
    if device.type == "cuda" and device.index is None and local.isdigit():
        device = torch.device("cuda", int(local))
    elif device.type == "cuda" and local.isdigit() and _local_world_size() > 1:
        # every rank would sit on one GPU: NCCL refuses duplicate GPUs, and on gloo the ranks share one card silently
        raise DeviceError(f"{text} under torchrun with {_local_world_size()} processes on this machine would put "
                          f"every rank on that one GPU: use cuda, which gives each rank its local rank's GPU")
    reason = unavailable(device)
    if reason is not None:
        raise DeviceError(reason)
    return device


def resolve_precision(value: str | None, device: torch.device) -> str:
    """``value`` (else the command's choice, else ``UNIBIND_PRECISION``, else fp32), checked against ``device``."""
    import torch

    text = str(value or _chosen["precision"] or os.environ.get(PRECISION_ENV) or "fp32").strip().lower()
    if text not in PRECISIONS:
        raise DeviceError(f"unknown precision {text!r}: use one of {', '.join(PRECISIONS)}")
    if text == "fp16" and device.type == "cpu":
        raise DeviceError("fp16 autocast is not supported on cpu: use --precision bf16 or fp32 there")
    if text == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise DeviceError(f"{device} does not support bf16: use --precision fp16 or fp32")
    return text


@contextlib.contextmanager
def chosen(device: str | None = None, precision: str | None = None) -> Iterator[None]:
    """Within the block, ``device``/``precision`` are the process's setting (a command's options;
    click enters it with ``ctx.with_resource`` and leaves it when the command ends)."""
    before = dict(_chosen)
    _chosen.update(device=device, precision=precision)
    try:
        yield
    finally:
        _chosen.update(before)


def autocast_dtype(precision: str) -> torch.dtype | None:
    import torch

    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Mixed precision on ``device``'s type for ``precision`` (bf16/fp16); fp32: nothing at all."""
    import torch

    dtype = autocast_dtype(precision)
    if dtype is None or device.type == "meta":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def pin_memory(device: torch.device) -> bool:
    """Page-locked batches pay off only for copies to a CUDA device."""
    return device.type == "cuda"


def non_blocking(device: torch.device) -> bool:
    """Copies to a CUDA device from pinned memory can overlap with compute."""
    return device.type == "cuda"


def to_device(batch: Any, device: torch.device) -> Any:
    """``batch`` with every tensor in it on ``device``: tensors, mappings, lists, tuples, named tuples,
    and objects with their own ``.to`` (a tokenizer's BatchEncoding); anything else as it is."""
    import torch

    if isinstance(batch, torch.Tensor):
        return batch if batch.device == device else batch.to(device, non_blocking=non_blocking(device))
    if isinstance(batch, dict):
        return type(batch)({k: to_device(v, device) for k, v in batch.items()})
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # a named tuple
        return type(batch)(*(to_device(v, device) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    move = getattr(batch, "to", None)
    if callable(move) and not isinstance(batch, torch.nn.Module):
        try:
            return move(device, non_blocking=non_blocking(device))
        except TypeError:  # a .to(device) that takes no non_blocking
            return move(device)
    return batch


def to_host(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` on the CPU, where results are handed out (numpy, files, indexes); meta ones stay meta."""
    return tensor if tensor.device.type in ("cpu", "meta") else tensor.cpu()


def pin(batch: Any) -> Any:
    """``batch`` with its CPU tensors in page-locked memory (a DataLoader's ``pin_memory`` step)."""
    import torch

    if isinstance(batch, torch.Tensor):
        return batch.pin_memory() if batch.device.type == "cpu" else batch
    if isinstance(batch, dict):
        return type(batch)({k: pin(v) for k, v in batch.items()})
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(pin(v) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(pin(v) for v in batch)
    return batch


def module_device(module: Any, default: torch.device | None = None) -> torch.device:
    """Where ``module``'s first parameter (or buffer) lives; ``default`` (cpu) for one with neither."""
    import torch

    for tensors in (module.parameters(), module.buffers()):
        for tensor in tensors:
            return tensor.device
    return default if default is not None else torch.device("cpu")
