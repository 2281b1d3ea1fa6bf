"""A trained space travels: copied with its models to another folder, it classifies the same (issue 15).

The space is trained on the synthetic ``.vec`` modality with a tiny BERT as
its text encoder (a real Hugging Face folder, a few hundred kB). The model
files are copied with new modification times, as a new venv or another
machine has them, and the original install is deleted; only a changed weight
makes the space stale, and then it is refused with the command that trains it
again.
"""

from __future__ import annotations

import os
import shutil

import pytest
import torch

from test_training_pipeline import manifest

from unibind.errors import InputError
from unibind.inspect_space import inspect_space
from unibind.space import Space
from unibind.spacedir import feature_identity, read_record
from unibind.training.features import FrozenEncoder
from unibind.training.pipeline import TrainConfig, train_space
from unibind.training.trainer import TrainSettings
from unibind.testing.models import save_tiny_bert


def _train(tmp_path, registry, model):
    config = TrainConfig(data=manifest(tmp_path), out=tmp_path / "gpu-box" / "space",
                         cache_dir=tmp_path / "features", text_encoder="hf-text",
                         settings={"hf-text": {"model": str(model)}},
                         train=TrainSettings(epochs=3, batch_size=8, lr=0.02, warmup_steps=1), progress=False)
    return train_space(config, registry=registry).space_dir


def _copy_with_new_times(source, target):
    shutil.copytree(source, target)
    for path in target.rglob("*"):
        os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    return target


def _classify(space_dir, model, registry, files):
    space = Space.from_dir(space_dir, registry=registry, settings={"hf-text": {"model": str(model)}})
    predictions, failures = space.classify(files, top_k=3)
    assert not failures
    return [(p.label, round(p.confidence, 5)) for p in predictions]


def test_a_space_copied_with_its_models_classifies_the_same_and_a_changed_weight_is_refused(
        tmp_path, monkeypatch, fake_registry):
    monkeypatch.setenv("UNIBIND_CACHE_DIR", str(tmp_path / "cache"))
    model = save_tiny_bert(tmp_path / "gpu-box" / "venv" / "model")
    space_dir = _train(tmp_path, fake_registry, model)
    files = [tmp_path / "data" / f"{i}.vec" for i in range(9)]
    before = _classify(space_dir, model, fake_registry, files)

    moved_model = _copy_with_new_times(model, tmp_path / "laptop" / "venv" / "model")
    moved_space = _copy_with_new_times(space_dir, tmp_path / "laptop" / "space")
    shutil.rmtree(tmp_path / "gpu-box")
    monkeypatch.setenv("UNIBIND_CACHE_DIR", str(tmp_path / "laptop-cache"))  # no memo from the first machine
    with pytest.raises(InputError, match="hf-text setting model=.* does not exist on this machine"):
        Space.from_dir(moved_space, registry=fake_registry)  # the recorded folder was on the first machine
    assert _classify(moved_space, moved_model, fake_registry, files) == before
    found = inspect_space(moved_space, registry=fake_registry, settings={"hf-text": {"model": str(moved_model)}})
    assert found.usable and [e.matches for e in found.encoders] == [True, True]

    from safetensors.torch import load_file, save_file

    weights = load_file(moved_model / "model.safetensors")
    name = sorted(weights)[0]
    weights[name] = weights[name].clone()
    weights[name].view(-1)[0] += 0.5
    save_file(weights, moved_model / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(InputError) as refused:
        _classify(moved_space, moved_model, fake_registry, files)
    message = str(refused.value)
    assert str(moved_space / "space.json") in message and "text encoder 'hf-text'" in message
    assert "unibind train --data " + str(tmp_path / "train.jsonl") in message
    assert "--text-encoder hf-text --init auto --epochs 3 --batch-size 8 --lr 0.02" in message
    found = inspect_space(moved_space, registry=fake_registry, settings={"hf-text": {"model": str(moved_model)}})
    assert found.usable is False and [e.matches for e in found.encoders] == [False, True]
    assert found.centres[0].matches is False and "unibind train --data" in found.remedies[0]


def test_the_recorded_feature_identity_is_the_training_cache_identity(tmp_path, fake_registry):
    """spacedir.feature_identity mirrors FrozenEncoder.identity; if they drift every space looks stale."""
    from unibind.identity import identity_hash

    settings = {"counting": {"scale": 2.0}}
    frozen = FrozenEncoder.from_registry("vec", registry=fake_registry, settings=settings)
    space = Space(registry=fake_registry, settings=settings, adapters={"vec": "linear"})
    assert feature_identity(space, "vec") == identity_hash(frozen.identity)
    assert feature_identity(Space(registry=fake_registry, adapters={"vec": "linear"}), "vec") != identity_hash(frozen.identity)


def test_a_space_whose_modality_encoder_changed_is_refused(tmp_path, fake_registry):
    config = TrainConfig(data=manifest(tmp_path), out=tmp_path / "space", cache_dir=tmp_path / "features",
                         train=TrainSettings(epochs=2, batch_size=8, warmup_steps=1), progress=False)
    space_dir = train_space(config, registry=fake_registry).space_dir
    assert read_record(space_dir).made_from["data"] == str(tmp_path / "train.jsonl")
    space = Space.from_dir(space_dir, registry=fake_registry, settings={"counting": {"scale": 3.0}})
    with pytest.raises(InputError, match="vec encoder 'counting' had identity .*`unibind train --data"):
        space.embed_files([tmp_path / "data" / "0.vec"])


def test_space_inspect_shows_what_a_space_holds_and_that_it_is_stale(tmp_path, fake_registry):
    from click.testing import CliRunner
    from unibind_cli.main import cli

    config = TrainConfig(data=manifest(tmp_path), out=tmp_path / "space", cache_dir=tmp_path / "features",
                         train=TrainSettings(epochs=2, batch_size=8, warmup_steps=1), progress=False)
    space_dir = train_space(config, registry=fake_registry).space_dir
    shown = CliRunner().invoke(cli, ["space", "inspect", str(space_dir)])
    assert shown.exit_code == 0, shown.output
    record = read_record(space_dir)
    assert f"identity {record.modalities['vec'].feature_identity}: matches this installation" in shown.output
    assert "vec      linear 12 -> 64" in shown.output and "templates, 3 classes, vec prompts" in shown.output
    assert "usable here: yes" in shown.output

    from unibind.calibration.store import CalibratorRecord, FittedCalibrator, save_calibrator
    from unibind.calibration.temperature import TemperatureScaler

    scaler = TemperatureScaler().fit(torch.randn(40, 3) * 5, torch.randint(0, 3, (40,)))
    save_calibrator(space_dir, FittedCalibrator(scaler, CalibratorRecord(
        name="temperature", modality="vec", fitted_on=40, metrics={"before": {"ece": 0.3}, "after": {"ece": 0.1}})))
    shown = CliRunner().invoke(cli, ["space", "inspect", str(space_dir), "--no-check"])
    assert f"vec      temperature (temperature {scaler.temperature:.3f}), fitted on 40; ECE 0.300 -> 0.100 (on the fitting data" \
        in shown.output and "usable here: not checked" in shown.output

    record.modalities["vec"].encoder_settings = {"scale": 5.0}  # as if trained with another encoder
    (space_dir / "space.json").write_text(record.model_dump_json())
    shown = CliRunner().invoke(cli, ["space", "inspect", str(space_dir), "--json"])
    assert shown.exit_code == 3
    import json

    found = json.loads(shown.output)
    assert found["usable"] is False and [e["matches"] for e in found["encoders"]] == [True, False]
    assert found["remedies"][0].startswith("train it again with `unibind train --data")
