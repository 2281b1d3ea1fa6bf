"""``unibind train``: contrastive adapter training into a space directory (runs under torchrun too)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from unibind_cli.devices import device_options
from unibind_cli.validation import NON_NEGATIVE, OPEN_FRACTION, POSITIVE, POSITIVE_FLOAT, given

NON_NEGATIVE_FLOAT = click.FloatRange(min=0)
#: Defaults as literals (importing the trainer here would load torch for every command); a test keeps them
#: equal to TrainSettings' and TrainConfig's.
DEFAULT_INIT = "auto"
DEFAULT_ANCHOR_WEIGHT = 0.0
DEFAULT_STACKING = True
DEFAULT_STACKING_MAX_SEEN_LOSS = 0.05


def _anchor_note(starts: dict[str, str], weight: float) -> str:
    anchored = sorted(m for m, init in starts.items() if init == "text-bridge")
    if not weight:
        return ""
    if anchored:
        return f"; {', '.join(anchored)} anchored to the bridge (--anchor-weight {weight:g})"
    return f"; --anchor-weight {weight:g} anchors nothing: no adapter starts from the text bridge" \
        if given("anchor_weight") else ""


def _one(values: list[str], option: str) -> str:
    if len(values) > 1:
        raise click.BadParameter(f"one INIT for every modality, got {', '.join(values)}", param_hint=option)
    return values[0].strip()


def _pairs(values: tuple[str, ...] | list[str], option: str) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, name = value.partition("=")
        if not sep or not key or not name:
            raise click.BadParameter(f"expected MODALITY=NAME, got {value!r}", param_hint=option)
        out[key.strip()] = name.strip()
    return out


@click.command()
@click.option("--data", required=True, type=click.Path(exists=True, path_type=Path),
              help="JSONL manifest (path, label, description, instance, modality: docs/training-manifest.md) "
              "or a folder per class.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Space directory to write; an interrupted run resumes from its checkpoint.")
@click.option("--modalities", show_default="all in the data", help="Comma-separated modalities to train.")
@click.option("--kb", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              show_default="none: prompt-template centres",
              help="Knowledge base: ECL class centres give positives to samples without a description.")
@click.option("--k", "centres_k", default=50, show_default=True, type=POSITIVE, help="ECL centres per class.")
@click.option("--encoder", "encoders", multiple=True, metavar="MODALITY=NAME",
              show_default="each modality's default encoder", help="Encoder per modality.")
@click.option("--adapter", "adapters", multiple=True, metavar="MODALITY=NAME", show_default="linear",
              help="Adapter per modality (linear, mlp, ...).")
@click.option("--init", "inits", multiple=True, metavar="[MODALITY=]INIT",
              show_default=DEFAULT_INIT,
              help="Adapter start, for every modality (INIT) or one (MODALITY=INIT): auto, text-bridge, xavier, "
              "orthogonal, zeros. auto = text-bridge where the encoder has an ImageNet head, else xavier.")
@click.option("--text-encoder", show_default="the default text encoder", help="Text encoder of the space.")
@click.option("--epochs", default=30, show_default=True, type=POSITIVE)
@click.option("--batch-size", default=64, show_default=True, type=POSITIVE,
              help="Global batch per modality.")
@click.option("--lr", default=1e-3, show_default=True, type=POSITIVE_FLOAT)
@click.option("--anchor-weight", default=DEFAULT_ANCHOR_WEIGHT, show_default=True, type=NON_NEGATIVE_FLOAT,
              help="Pull adapters that start from the text bridge back toward it (L2-SP): keeps classes never seen "
              "in training, costs accuracy on the seen ones (README: 'Which start'); 0: off.")
@click.option("--temperature", default=1.0, show_default=True, type=POSITIVE_FLOAT,
              help="tau (the paper: 1, i.e. none).")
@click.option("--learn-temperature", is_flag=True, show_default="fixed",
              help="Learn tau, starting from --temperature.")
@click.option("--symmetric", is_flag=True, show_default="one way, as the paper",
              help="Add the text-to-sample direction to the loss.")
@click.option("--patience", default=5, show_default=True, type=POSITIVE,
              help="Early stopping on the val loss.")
@click.option("--balance-weight", default=0.0, show_default=True, type=click.FloatRange(min=0),
              help="Weight of a loss term pulling each modality's batch mean onto its texts' mean (modality gap).")
@click.option("--centre-modalities", is_flag=True, show_default="off",
              help="Save per-modality means (training data) in the space; it subtracts them before "
              "normalising (C3's centring against the modality gap).")
@click.option("--stacking/--no-stacking", default=DEFAULT_STACKING, show_default=True,
              help="Calibrated stacking: a second training run without ~30 % of the classes (pseudo-unseen) picks "
              "the offset subtracted from trained classes' scores at classify time, so classes never trained on "
              "can still win (README: 'Which start'); classify/eval report --no-stacking ignore it.")
@click.option("--stacking-max-seen-loss", type=click.FloatRange(0, 1), default=DEFAULT_STACKING_MAX_SEEN_LOSS,
              show_default=True,
              help="With --stacking: choose the offset with the best unseen accuracy that costs seen accuracy at "
              "most this much (on the second run's items it holds out), instead of the best harmonic mean H.")
@click.option("--val-fraction", default=0.2, show_default=True, type=OPEN_FRACTION,
              help="Held out for early stopping; 0, or too few items per class, trains a fixed schedule.")
@click.option("--seed", default=0, show_default=True)
@click.option("--workers", default=0, show_default=True, type=NON_NEGATIVE,
              help="Decoding processes for feature extraction.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
              show_default="<cache dir>/feature-cache", help="Feature cache directory.")
@click.option("--threads", type=POSITIVE, show_default="torch's default",
              help="torch threads per process (1 is fastest for small adapters).")
@click.option("--json", "as_json", is_flag=True, show_default="text", help="Print the summary as JSON.")
@device_options
def train(data: Path, out: Path, modalities: str | None, kb: Path | None, centres_k: int,
          encoders: tuple[str, ...], adapters: tuple[str, ...], inits: tuple[str, ...], text_encoder: str | None,
          epochs: int, batch_size: int, lr: float, anchor_weight: float, temperature: float,
          learn_temperature: bool, symmetric: bool, patience: int, val_fraction: float, seed: int, workers: int,
          cache_dir: Path | None, threads: int | None, as_json: bool, balance_weight: float = 0.0,
          centre_modalities: bool = False, stacking: bool = DEFAULT_STACKING,
          stacking_max_seen_loss: float | None = DEFAULT_STACKING_MAX_SEEN_LOSS) -> None:
    """Train one adapter per modality against text descriptions (LLM-augmented contrastive learning).

    Under ``torchrun --nproc_per_node N -m unibind_cli train ...`` the same command trains with
    DistributedDataParallel (gloo on CPU, NCCL on GPUs).
    """
    import torch

    from unibind.errors import UniBindError
    from unibind.training.distributed import init_from_env, shutdown
    from unibind.training.pipeline import TrainConfig, train_space
    from unibind.training.trainer import TrainSettings

    if not stacking and given("stacking_max_seen_loss"):
        raise click.ClickException(f"--stacking-max-seen-loss {stacking_max_seen_loss:g} chooses calibrated "
                                   "stacking's offset, but stacking is off (--no-stacking): add --stacking or drop it")
    if threads:
        torch.set_num_threads(threads)
    config = TrainConfig(
        data=data, out=out, kb=kb, centres_k=centres_k, text_encoder=text_encoder,
        modalities=[m.strip() for m in modalities.split(",") if m.strip()] if modalities else None,
        encoders=_pairs(encoders, "--encoder"), adapters=_pairs(adapters, "--adapter"),
        adapter_settings={m: {"init": init} for m, init in _pairs([i for i in inits if "=" in i], "--init").items()},
        **({"init": _one([i for i in inits if "=" not in i], "--init")} if any("=" not in i for i in inits) else {}),
        val_fraction=val_fraction, workers=workers, cache_dir=cache_dir, centre_modalities=centre_modalities,
        stacking=stacking, stacking_max_seen_loss=stacking_max_seen_loss if stacking else None,
        train=TrainSettings(epochs=epochs, batch_size=batch_size, lr=lr, temperature=temperature,
                            learn_temperature=learn_temperature, symmetric=symmetric, patience=patience, seed=seed,
                            anchor_weight=anchor_weight, balance_weight=balance_weight))
    ctx = init_from_env()

    def show(record) -> None:
        if not as_json:
            acc = " ".join(f"{m} {a:.3f}" for m, a in record.val_accuracy.items())
            val = f"{record.val_loss:.4f}" if record.val_loss is not None else "-"
            click.echo(f"epoch {record.epoch:3d}  train {record.train_loss:.4f}  val {val}  "
                       f"acc {acc or '-'}  tau {record.temperature:.3f}  {record.seconds:.2f}s", err=True)

    try:
        result = train_space(config, ctx=ctx, on_epoch=show)
    except UniBindError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        shutdown(ctx)
    if not ctx.main:
        return
    summary = {"space": str(result.space_dir), "best_epoch": result.fit.best_epoch,
               "epochs": len(result.fit.history), "stopped_early": result.fit.stopped_early,
               "resumed_from": result.fit.resumed_from, "temperature": result.fit.temperature,
               "val_accuracy": result.fit.history[-1].val_accuracy if result.fit.history else {},
               "parameters": result.parameters, "starts": result.starts,
               "stacking": {m: r.model_dump() for m, r in result.stacking.items()},
               "samples": result.samples, "encoded": result.encoded,
               "skipped": [f.model_dump() for f in result.failures]}
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    p = result.parameters
    click.echo(f"space written to {result.space_dir} (best epoch {result.fit.best_epoch} of "
               f"{len(result.fit.history)}{', stopped early' if result.fit.stopped_early else ''})")
    if val_fraction > 0 and result.samples and all(n["val"] == 0 for n in result.samples.values()):
        from unibind.training.data import smallest_validated_class

        needed = smallest_validated_class(val_fraction, config.min_val_per_class)
        click.echo(f"no validation: --val-fraction {val_fraction:g} holds out {config.min_val_per_class} per class "
                   f"(and keeps as many for training) only when every class has at least {needed} items, and one "
                   f"has fewer; so all trained for the fixed schedule of {epochs} epochs, with no early stopping",
                   err=True)
    if result.starts:
        click.echo("adapter start: " + ", ".join(f"{m} {init}" for m, init in sorted(result.starts.items()))
                   + ("" if inits else f" (--init {config.init})") + _anchor_note(result.starts, anchor_weight))
    click.echo(f"parameters: {p['trainable']:,} trainable, {p['frozen']:,} frozen "
               f"({100 * p['trainable'] / max(1, p['trainable'] + p['frozen']):.2f}% trained)")
    for m, r in sorted(result.stacking.items()):
        f = r.fitted
        click.echo(f"calibrated stacking ({m}): gamma {r.gamma:.4f} subtracted from the {len(r.seen)} trained classes' "
                   f"scores (chosen holding out {', '.join(f['pseudo_unseen'])}: H {f['h_before']:.3f} -> "
                   f"{f['h_after']:.3f}); classify --no-stacking ignores it")
    for f in result.failures:
        click.echo(f"skipped {f.source}: {f.reason}", err=True)
    for note in result.notes:
        click.echo(note, err=True)
