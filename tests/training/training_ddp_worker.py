"""Run under torchrun by the DDP test: train on the synthetic task, rank 0 saves the adapters."""

from __future__ import annotations

import sys

import torch
import training_fakes as fakes
from safetensors.torch import save_file

from unibind.training.distributed import init_from_env, shutdown
from unibind.training.trainer import TrainSettings, fit_adapters

SETTINGS = TrainSettings(epochs=3, batch_size=30, lr=0.02, warmup_steps=2, learn_temperature=True,
                         temperature=0.3, symmetric=True)


def run(ctx=None):
    torch.set_num_threads(1)
    train, val, positives = fakes.synthetic(sizes=(("a", 75, 16), ("b", 20, 8)))
    return fit_adapters(fakes.adapters("mlp", dropout=0.0), train, val, positives, SETTINGS, ctx=ctx)


if __name__ == "__main__":
    ctx = init_from_env("gloo")
    result = run(ctx)
    if ctx.main:
        tensors = {f"{m}.{k}": v.contiguous() for m, a in result.adapters.items() for k, v in a.state_dict().items()}
        tensors["temperature"] = torch.tensor([result.temperature])
        tensors["losses"] = torch.tensor([r.train_loss for r in result.history])
        save_file(tensors, sys.argv[1])
    shutdown(ctx)
