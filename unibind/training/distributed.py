"""Data-parallel training across processes: ``torchrun`` sets the environment, this reads it.

Every rank computes the same global-batch loss: it encodes only its own
slice of each batch (reading only those rows of the feature cache), the
adapted embeddings of all slices are gathered with autograd, and
DistributedDataParallel averages the gradients. The gather's backward sums
each slice's gradient over the ranks (a factor of the world size) and DDP's
average divides it out, so the update equals single-process training on the
same global batch. gloo on CPU, NCCL on GPUs: each rank on its local rank's
GPU when the device setting (:mod:`unibind.devices`) resolves to cuda.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

from unibind.devices import resolve


@dataclass(frozen=True)
class DistContext:
    """This process's place in the group (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world: int = 1
    #: Where this rank trains: the device setting (--device, UNIBIND_DEVICE, auto) unless given.
    device: torch.device = field(default_factory=lambda: resolve())

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def part(self, count: int) -> slice:
        """This rank's contiguous slice of ``count`` rows (sizes differ by at most one)."""
        base, extra = divmod(count, self.world)
        start = self.rank * base + min(self.rank, extra)
        return slice(start, start + base + (1 if self.rank < extra else 0))

    def barrier(self) -> None:
        if self.active:
            dist.barrier()


def init_from_env(backend: str | None = None, device: str | torch.device | None = None) -> DistContext:
    """Join the process group ``torchrun`` describes (WORLD_SIZE > 1), else a single-process context.

    ``device`` (default: the device setting) decides the rest: cuda means this
    rank's GPU (``cuda:LOCAL_RANK``) and the NCCL backend, anything else gloo.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    where = resolve(device)
    if world <= 1:
        return DistContext(device=where)
    rank = int(os.environ["RANK"])
    cuda = where.type == "cuda"
    backend = backend or ("nccl" if cuda else "gloo")
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    if cuda:
        torch.cuda.set_device(where)
    return DistContext(rank, world, where)


def shutdown(ctx: DistContext) -> None:
    if ctx.active and dist.is_initialized():
        dist.destroy_process_group()


def gather_rows(local: torch.Tensor, ctx: DistContext, total: int) -> torch.Tensor:
    """All ranks' slices (see :meth:`DistContext.part`) concatenated in order, gradients flowing back."""
    if not ctx.active:
        return local
    from torch.distributed.nn.functional import all_gather

    width = -(-total // ctx.world)
    padded = torch.zeros(width, *local.shape[1:], dtype=local.dtype, device=local.device)
    padded = torch.cat([local, padded[local.shape[0]:]]) if local.shape[0] < width else local
    parts = all_gather(padded)
    sizes = [DistContext(r, ctx.world, ctx.device).part(total) for r in range(ctx.world)]
    return torch.cat([part[:s.stop - s.start] for part, s in zip(parts, sizes)])
