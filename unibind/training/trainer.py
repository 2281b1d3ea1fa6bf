"""Contrastive training of the adapters on cached features (stage 2 of the paper).

Only adapters (and a learned temperature, if asked for) train; encoders are
frozen and never run here: the features come from the feature cache. Each
step draws one batch per modality (balanced: a small modality cycles
through its data more often rather than being outweighed) and averages
their losses. Batch order, positives drawn from class centres and dropout
are seeded per (seed, epoch), so a run resumed from its end-of-epoch
checkpoint finishes exactly as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, Field
from torch import nn

from unibind.devices import module_device
from unibind.errors import UniBindError
from unibind.training.checkpoint import load_checkpoint, save_checkpoint
from unibind.training.distributed import DistContext, gather_rows
from unibind.training.objective import Temperature, contrastive_loss, mean_gap


class TrainSettings(BaseModel):
    """Optimisation of the adapters."""

    epochs: int = Field(default=30, ge=1)
    batch_size: int = Field(default=64, ge=2, description="Global batch per modality (split across ranks).")
    lr: float = Field(default=1e-3, gt=0)
    weight_decay: float = Field(default=0.01, ge=0)
    warmup_steps: int = Field(default=20, ge=0, description="Linear warm-up, then cosine decay to 10%.")
    clip_norm: float | None = Field(default=1.0, gt=0, description="Gradient-norm clipping (None: off).")
    patience: int = Field(default=5, ge=1, description="Stop after this many epochs without a better val loss "
                          "(with no validation data every epoch runs: a fixed schedule).")
    min_delta: float = Field(default=1e-4, ge=0)
    temperature: float = Field(default=1.0, gt=0, description="tau; the paper uses none, i.e. 1.")
    learn_temperature: bool = Field(default=False, description="Learn tau (from `temperature`), CLIP-style.")
    symmetric: bool = Field(default=False, description="Add the text-to-sample direction (the paper: one way).")
    anchor_weight: float = Field(default=0.0, ge=0, description=(
        "Pull adapters that start from the text bridge (init='text-bridge') back toward it (L2-SP): this times "
        "the squared distance of their weights from the start, relative to the start's squared norm, is added "
        "to the loss. It keeps the bridge's zero-shot classes while training fits the seen ones; other starts "
        "are not anchored. Off by default: with calibrated stacking the plain bridge start keeps more seen and "
        "about as many unseen classes (scripts/choose_init.py, docs/choosing-the-start.md)."))
    balance_weight: float = Field(default=0.0, ge=0, description=(
        "Weight of the balance term: the squared distance between a batch's mean unit embedding and the "
        "mean of its positive texts, added to each modality's loss against the modality gap (0: off; "
        "early stopping still watches the contrastive val loss)."))
    seed: int = 0


class NonFiniteLossError(UniBindError, ArithmeticError):
    """Training or validation loss became NaN or infinite: training stops instead of returning broken weights.

    Names the epoch (and step) and the likely cause: non-finite input features (with their rows) or
    weights that diverged. A checkpoint, if one is written, still holds the last finite epoch.
    """


def _bad_rows(features: Any, rows: torch.Tensor) -> list[int]:
    """Which of ``rows`` (indices into ``features``) hold a NaN or infinite value."""
    bad = []
    for chunk in rows.split(1024):
        values = features[chunk].float()
        finite = torch.isfinite(values.reshape(len(chunk), -1)).all(1)
        bad += chunk[~finite.cpu()].tolist()
    return bad


def _diverged(where: str, what: str, data: dict[str, ModalityData], rows: dict[str, torch.Tensor],
              params: list[torch.Tensor], kept: int, checkpoint: Any) -> NonFiniteLossError:
    """The error for ``what`` went non-finite at ``where``, naming the modality and rows whose features caused it."""
    for m in sorted(data):
        bad = _bad_rows(data[m].features, rows[m])
        if bad:
            shown = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
            cause = (f"{len(bad)} {m} feature row(s) hold NaN or infinite values (rows {shown}); "
                     "remove or re-encode those files")
            break
    else:
        weights = "the adapter weights are no longer finite" if any(
            not bool(torch.isfinite(p).all()) for p in params) else "the features are finite"
        cause = f"{weights}: training diverged; lower --lr or keep gradient clipping on"
    last = f"epoch {kept} was the last finite one" if kept else "no epoch finished with a finite loss"
    if kept and checkpoint is not None:
        last += f" ({checkpoint} holds it)"
    return NonFiniteLossError(f"{where}: {what} ({cause}); training stopped, {last}")


@dataclass
class ModalityData:
    """One modality's training rows: features and where each row's positive text comes from."""

    features: Any  # torch.Tensor [N, d] or anything indexable by a LongTensor (CachedRows)
    text_index: torch.Tensor  # [N] row of Positives.texts, or -1: draw from the class's centres
    labels: torch.Tensor  # [N] class index into Positives.centres, or -1

    def __post_init__(self) -> None:
        n = len(self.features)
        if len(self.text_index) != n or len(self.labels) != n:
            raise ValueError("features, text_index and labels must have one row per sample")
        orphan = (self.text_index < 0) & (self.labels < 0)
        if bool(orphan.any()):
            raise ValueError(f"{int(orphan.sum())} rows have neither a description nor a label")

    def __len__(self) -> int:
        return len(self.features)

    def subset(self, index: torch.Tensor) -> ModalityData:
        rows = self.features[index] if isinstance(self.features, torch.Tensor) else _Subset(self.features, index)
        return ModalityData(rows, self.text_index[index], self.labels[index])


@dataclass
class _Subset:
    base: Any
    index: torch.Tensor

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, rows: torch.Tensor) -> torch.Tensor:
        return self.base[self.index[rows]]


@dataclass
class Positives:
    """Text embeddings positives come from: per-sample descriptions, and class centre sets."""

    texts: torch.Tensor  # [T, d]
    centres: torch.Tensor | None = None  # [C, K, d], padded (see unibind.knowledge.centres)
    mask: torch.Tensor | None = None  # [C, K] real slots

    @property
    def dim(self) -> int:
        return int(self.centres.shape[-1] if self.centres is not None else self.texts.shape[-1])

    def draw(self, text_index: torch.Tensor, labels: torch.Tensor,
             generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Positive text embeddings ``[B, d]`` and group ids (equal id: same positive source)."""
        out = torch.empty(len(text_index), self.dim)
        described = text_index >= 0
        if bool(described.any()):
            out[described] = self.texts[text_index[described]]
        from_class = ~described
        if bool(from_class.any()):
            if self.centres is None or self.mask is None:
                raise ValueError("rows without a description need class centres")
            cls = labels[from_class]
            counts = self.mask.sum(1)[cls]
            slots = (torch.rand(len(cls), generator=generator) * counts).long().clamp(max=counts - 1)
            out[from_class] = self.centres[cls, slots]
        groups = torch.where(described, text_index, len(self.texts) + labels)
        return out, groups


class AdapterBundle(nn.Module):
    """Every modality's adapter and the temperature: the only trainable part, one forward per step."""

    def __init__(self, adapters: dict[str, nn.Module], temperature: Temperature):
        super().__init__()
        self.adapters = nn.ModuleDict(adapters)
        self.temperature = temperature

    def forward(self, features: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        return {m: self.adapters[m](x) for m, x in features.items()}, self.temperature.scale()


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    val_loss: float | None
    val_accuracy: dict[str, float]
    lr: float
    temperature: float
    seconds: float


@dataclass
class FitResult:
    """What training produced: the best adapters (restored), their history and sizes."""

    adapters: dict[str, nn.Module]
    temperature: float
    history: list[EpochRecord]
    best_epoch: int
    stopped_early: bool
    trainable_parameters: int
    resumed_from: int = 0
    steps: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def epochs_per_second(self) -> float:
        seconds = sum(r.seconds for r in self.history)
        return len(self.history) / seconds if seconds else float("inf")


def starts_from_bridge(adapter: nn.Module) -> bool:
    """Whether ``adapter`` was built with ``init='text-bridge'`` (the start worth returning to)."""
    return getattr(getattr(adapter, "settings", None), "init", None) == "text-bridge"


class Anchor:
    """L2-SP (Li et al., 2018): ``weight * |theta - theta_0|^2 / |theta_0|^2`` over the trainable adapter weights.

    Relative to the start's norm, so one weight means the same for any
    encoder width; a start of all zeros is measured in absolute terms.
    Training anchors only adapters that start from the text bridge: a random
    start (xavier, ...) is no place to pull back to.
    """

    def __init__(self, adapters: nn.Module, weight: float):
        self.weight = float(weight)
        self.params = [p for p in adapters.parameters() if p.requires_grad] if self.weight else []
        self.start = [p.detach().clone() for p in self.params]
        norm = sum(float(s.pow(2).sum()) for s in self.start)
        self.scale = self.weight / norm if norm > 0 else self.weight

    def distance(self) -> torch.Tensor:
        """Squared distance of the weights from the start (0 when off)."""
        if not self.params:
            return torch.zeros(())
        return torch.stack([(p - s).pow(2).sum() for p, s in zip(self.params, self.start)]).sum()

    def penalty(self) -> torch.Tensor | float:
        return self.scale * self.distance() if self.params else 0.0


def trainable_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def steps_per_epoch(train: dict[str, ModalityData], batch_size: int) -> int:
    return max(-(-len(d) // batch_size) for d in train.values())


def _generator(*parts: Any) -> torch.Generator:
    seed = int.from_bytes(hashlib.sha256(json.dumps(parts).encode()).digest()[:8], "big") >> 1
    return torch.Generator().manual_seed(seed)


def epoch_batches(n: int, steps: int, batch_size: int, *parts: Any) -> list[torch.Tensor]:
    """``steps`` batches over ``n`` rows, seeded by ``parts``.

    A modality that fills the epoch gets one shuffled pass (last batch
    partial); a smaller one cycles through fresh shuffles in full batches.
    """
    generator = _generator(*parts)
    if -(-n // batch_size) == steps:
        return list(torch.randperm(n, generator=generator).split(batch_size))
    width = min(batch_size, n)
    order = torch.cat([torch.randperm(n, generator=generator) for _ in range(-(-steps * width // n))])
    return [order[i * width:(i + 1) * width] for i in range(steps)]


def _lr_at(step: int, total: int, settings: TrainSettings) -> float:
    if settings.warmup_steps and step < settings.warmup_steps:
        return settings.lr * (step + 1) / settings.warmup_steps
    progress = (step - settings.warmup_steps) / max(1, total - settings.warmup_steps)
    return settings.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def fit_adapters(adapters: dict[str, nn.Module], train: dict[str, ModalityData], val: dict[str, ModalityData],
                 positives: Positives | dict[str, Positives], settings: TrainSettings | None = None, *,
                 checkpoint: str | Path | None = None, ctx: DistContext | None = None,
                 on_epoch: Callable[[EpochRecord], None] | None = None) -> FitResult:
    """Train ``adapters`` (one per modality) contrastively; returns the best ones by val loss.

    ``checkpoint``: a file written atomically after every epoch; if it exists
    when training starts, training resumes from it. Under ``torchrun`` pass
    ``ctx`` (see :mod:`unibind.training.distributed`). ``settings.anchor_weight``
    pulls back the adapters that start from the text bridge (see :class:`Anchor`).
    """
    settings = settings or TrainSettings()
    ctx = ctx or DistContext()
    if not train or any(len(d) == 0 for d in train.values()):
        raise ValueError("every modality needs training rows")
    if set(adapters) != set(train):
        raise ValueError(f"adapters for {sorted(adapters)} but training data for {sorted(train)}")
    torch.manual_seed(settings.seed)
    bundle = AdapterBundle(adapters, Temperature(settings.temperature, settings.learn_temperature)).to(ctx.device)
    anchor = Anchor(nn.ModuleList([bundle.adapters[m] for m in sorted(adapters) if starts_from_bridge(adapters[m])]),
                    settings.anchor_weight)  # the start, taken before a checkpoint is loaded
    model: nn.Module = bundle
    if ctx.active:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(bundle, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
    params = [p for p in bundle.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)
    steps = steps_per_epoch(train, settings.batch_size)
    total = steps * settings.epochs
    run_id = _run_id(settings, train, val, bundle)
    state = {"epoch": 0, "best_val": math.inf, "best_epoch": 0, "bad_epochs": 0, "history": [], "step": 0}
    best_state = {k: v.detach().clone() for k, v in bundle.state_dict().items()}
    resumed = 0
    if checkpoint is not None and Path(checkpoint).is_file():
        state, best_state = load_checkpoint(checkpoint, bundle, optimizer, run_id)
        resumed = state["epoch"]
    history = [EpochRecord(**r) for r in state["history"]]
    stopped = bool(state.get("stopped", False))
    modalities = sorted(train)
    for epoch in range(state["epoch"] + 1, settings.epochs + 1):
        if stopped:
            break
        started = time.perf_counter()
        torch.manual_seed(settings.seed * 100003 + epoch)  # dropout
        model.train()
        plans = {m: epoch_batches(len(train[m]), steps, settings.batch_size, settings.seed, epoch, m)
                 for m in modalities}
        draw = {m: _generator(settings.seed, epoch, m, "positives") for m in modalities}
        running = 0.0
        for step in range(steps):
            lr = _lr_at(state["step"], total, settings)
            for group in optimizer.param_groups:
                group["lr"] = lr
            local, texts, groups, sizes = {}, {}, {}, {}
            for m in modalities:
                index = plans[m][step]
                data = train[m]
                texts[m], groups[m] = _of(positives, m).draw(data.text_index[index], data.labels[index], draw[m])
                sizes[m] = len(index)
                local[m] = data.features[index[ctx.part(len(index))]].float().to(ctx.device)
            outputs, scale = model(local)
            losses, balance = [], []
            for m in modalities:
                rows, positive = gather_rows(outputs[m], ctx, sizes[m]), texts[m].to(ctx.device)
                losses.append(contrastive_loss(rows, positive, groups[m].to(ctx.device), scale=scale,
                                               symmetric=settings.symmetric))
                if settings.balance_weight:
                    balance.append(mean_gap(rows, positive))
            contrastive = torch.stack(losses).mean()
            loss = contrastive + anchor.penalty()
            if balance:  # the same as adding the weighted gap to each modality's loss before the mean
                loss = loss + settings.balance_weight * torch.stack(balance).mean()
            if not bool(torch.isfinite(loss)):  # before the step: the weights stay those of a finite loss
                raise _diverged(f"epoch {epoch}, step {step + 1} of {steps}", f"training loss is {loss.item()}",
                                train, {m: plans[m][step] for m in modalities}, params, state["epoch"], checkpoint)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if settings.clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(params, settings.clip_norm)
            optimizer.step()
            state["step"] += 1
            running += float(contrastive.detach())  # the train loss reported is comparable to the val loss
        val_loss, accuracy = evaluate(bundle, val, positives, settings, ctx.device) if val else (None, {})
        if not all(bool(torch.isfinite(p).all()) for p in params):   # the last step's update diverged
            raise _diverged(f"epoch {epoch}, after its last step", "the adapter weights are NaN or infinite", {},
                            {}, params, state["epoch"], checkpoint)
        if val_loss is not None and not math.isfinite(val_loss):
            raise _diverged(f"validation after epoch {epoch}", f"validation loss is {val_loss}", val,
                            {m: torch.arange(len(d)) for m, d in val.items()}, params, state["epoch"], checkpoint)
        record = EpochRecord(epoch, running / steps, val_loss, accuracy, lr, bundle.temperature.value,
                             time.perf_counter() - started)
        history.append(record)
        if val_loss is None:
            # No validation data: a fixed schedule. The training loss falls while the adapter overfits,
            # so it cannot say when to stop; the last epoch's weights are the result.
            state.update(best_epoch=epoch, bad_epochs=0)
            best_state = {k: v.detach().clone() for k, v in bundle.state_dict().items()}
        elif val_loss < state["best_val"] - settings.min_delta:
            state.update(best_val=val_loss, best_epoch=epoch, bad_epochs=0)
            best_state = {k: v.detach().clone() for k, v in bundle.state_dict().items()}
        else:
            state["bad_epochs"] += 1
            stopped = state["bad_epochs"] >= settings.patience
        state.update(epoch=epoch, history=[r.__dict__ for r in history], stopped=stopped)
        if checkpoint is not None and ctx.main:
            save_checkpoint(checkpoint, bundle, optimizer, best_state, state, run_id)
        ctx.barrier()
        if on_epoch is not None and ctx.main:
            on_epoch(record)
    bundle.load_state_dict(best_state)
    bundle.eval()
    return FitResult(dict(bundle.adapters.items()), bundle.temperature.value, history, state["best_epoch"],
                     stopped, trainable_parameters(bundle), resumed, state["step"])


def _of(positives: Positives | dict[str, Positives], modality: str) -> Positives:
    """One set of positives for every modality, or each modality's own (its own class centres)."""
    return positives[modality] if isinstance(positives, dict) else positives


@torch.no_grad()
def evaluate(bundle: AdapterBundle, val: dict[str, ModalityData], every: Positives | dict[str, Positives],
             settings: TrainSettings, device: torch.device | None = None) -> tuple[float | None, dict[str, float]]:
    """Mean val loss over modalities (fixed batches and positives) and top-1 accuracy against class centres.

    Runs on ``device`` (where the bundle is); features, positives and centres go there. The loss is
    None when no modality has two validation rows to contrast (then training runs a fixed schedule).
    """
    bundle.eval()
    device = device or module_device(bundle)
    losses, accuracy = [], {}
    for m in sorted(val):
        positives = _of(every, m)
        centres = positives.centres.to(device) if positives.centres is not None else None
        mask = positives.mask.to(device) if positives.mask is not None else None
        data = val[m]
        if len(data) == 0:
            continue
        generator = _generator(settings.seed, "val", m)
        total, batches, correct, labelled = 0.0, 0, 0, 0
        for start in range(0, len(data), settings.batch_size):
            index = torch.arange(start, min(start + settings.batch_size, len(data)))
            if len(index) < 2:
                continue
            out = bundle.adapters[m](data.features[index].float().to(device))
            texts, groups = positives.draw(data.text_index[index], data.labels[index], generator)
            total += float(contrastive_loss(out, texts.to(device), groups.to(device),
                                            scale=bundle.temperature.scale(), symmetric=settings.symmetric))
            batches += 1
            has = data.labels[index] >= 0
            if centres is not None and bool(has.any()):
                from unibind.knowledge.centres import score_centres

                scores = score_centres(out[has.to(device)], centres, mask)
                correct += int((scores.argmax(1).cpu() == data.labels[index][has]).sum())
                labelled += int(has.sum())
        if batches:
            losses.append(total / batches)
        if labelled:
            accuracy[m] = correct / labelled
    return (sum(losses) / len(losses) if losses else None), accuracy


def _run_id(settings: TrainSettings, train: dict[str, ModalityData], val: dict[str, ModalityData],
            bundle: nn.Module) -> str:
    """What a checkpoint must match to be resumed: settings, data sizes and parameter shapes."""
    shape = {k: list(v.shape) for k, v in bundle.state_dict().items()}
    # an option left off does not change the id, so checkpoints written before it existed still resume
    dumped = settings.model_dump(mode="json", exclude=set() if settings.balance_weight else {"balance_weight"})
    blob = json.dumps([dumped, {m: len(d) for m, d in train.items()},
                       {m: len(d) for m, d in val.items()}, shape], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
