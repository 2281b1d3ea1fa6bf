"""Training checkpoints as one safetensors file (no pickle), written atomically after each epoch.

Tensors: the trainable module's state (``model.*``), the best state so far
(``best.*``) and AdamW's moments (``optim.<param>.<name>``); everything
else (epoch, step, history, early-stopping counters, the optimizer's
hyper-parameters) is JSON in the header.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from unibind.atomic import save_tensors
from unibind.errors import InputError

FORMAT = "unibind-train-checkpoint"


def save_checkpoint(path: str | Path, module: nn.Module, optimizer: torch.optim.Optimizer,
                    best: dict[str, torch.Tensor], state: dict[str, Any], run_id: str) -> Path:
    tensors = {f"model.{k}": v.detach().cpu() for k, v in module.state_dict().items()}
    tensors.update({f"best.{k}": v.detach().cpu() for k, v in best.items()})
    opt = optimizer.state_dict()
    for index, per_param in opt["state"].items():
        for name, value in per_param.items():
            tensors[f"optim.{index}.{name}"] = torch.as_tensor(value).detach().cpu().clone()
    header = {"format": FORMAT, "run": run_id, "state": json.dumps(state),
              "param_groups": json.dumps(opt["param_groups"])}
    return save_tensors(tensors, path, metadata=header)


def load_checkpoint(path: str | Path, module: nn.Module, optimizer: torch.optim.Optimizer,
                    run_id: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Restore ``module`` and ``optimizer``; returns (training state, best module state)."""
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as fh:
            header = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except Exception as exc:  # noqa: BLE001
        raise InputError(path, f"not a readable checkpoint: {exc}") from exc
    if header.get("format") != FORMAT:
        raise InputError(path, "not a UniBind training checkpoint")
    if header.get("run") != run_id:
        raise InputError(path, "checkpoint of a different run (settings, data or adapters changed); "
                         "delete it or train into another directory")
    module.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    best = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")}
    per_param: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            per_param.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": per_param, "param_groups": json.loads(header["param_groups"])})
    return json.loads(header["state"]), best
