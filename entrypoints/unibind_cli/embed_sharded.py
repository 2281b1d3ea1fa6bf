"""``unibind embed`` of files: through the feature cache, sharded over ranks when run under torchrun."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


def embed_sharded(space: Any, inputs: list[Path], modality: str, batch_size: int) -> Any:
    """Rank 0's merged embeddings (None on the other ranks); one process: the same, through the cache."""
    from unibind.features.embed import embed_inputs
    from unibind.training.distributed import init_from_env, shutdown

    ctx = init_from_env("gloo")
    try:
        result = embed_inputs(space, inputs, modality, ctx=ctx, batch_size=batch_size)
    finally:
        shutdown(ctx)
    if ctx.active and ctx.main:
        click.echo(f"rank 0 of {ctx.world}: {result.encoded} item(s) encoded, {result.from_cache} read from the "
                   f"feature cache {result.cache_dir}", err=True)
    return result if ctx.main else None
