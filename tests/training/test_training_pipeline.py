"""From a manifest to a space directory and back (synthetic .vec modality, hashing text encoder)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import training_fakes as fakes

from unibind.errors import InputError
from unibind.space import Space
from unibind.spacedir import read_record
from unibind.training.data import read_dataset, split_instances
from unibind.training.pipeline import TrainConfig, train_space
from unibind.training.trainer import TrainSettings

LABELS = ("dog", "cat", "bird")


def manifest(tmp_path, n=30):
    gen = np.random.default_rng(0)
    protos = gen.standard_normal((3, fakes.DIM_IN))
    lines = []
    for i in range(n):
        c = i % 3
        path = fakes.write_vec(tmp_path / "data" / f"{i}.vec", protos[c] + 0.3 * gen.standard_normal(fakes.DIM_IN))
        line = {"path": f"data/{i}.vec", "label": LABELS[c], "instance": f"x{i}"}
        if i % 2:
            line["description"] = f"a small {LABELS[c]} photographed {['at night', 'in a field'][i % 4 // 2]}"
        lines.append(json.dumps(line))
        assert path.is_file()
    lines += ['{"path": "data/none.vec", "label": "dog"}', "not json", '{"label": "dog"}']
    out = tmp_path / "train.jsonl"
    out.write_text("\n".join(lines) + "\n")
    return out


def config(tmp_path, data, **train):
    return TrainConfig(data=data, out=tmp_path / "space", cache_dir=tmp_path / "features",
                       train=TrainSettings(epochs=6, batch_size=8, lr=0.02, warmup_steps=2, **train),
                       adapters={"vec": "mlp"}, adapter_settings={"vec": {"hidden": 8}}, progress=False)


def test_manifest_bad_lines_are_reported_and_splits_keep_instances_whole(tmp_path, fake_registry):
    data = manifest(tmp_path)
    items, failures = read_dataset(data, fake_registry)
    assert len(items) == 30 and {i.modality for i in items} == {"vec"}
    assert sorted(f.source.rsplit(":", 1)[1] for f in failures) == ["31", "32", "33"]
    assert any("no such file" in f.reason for f in failures)
    train, val = split_instances(items, 0.2, seed=0)
    assert not train & val and len(val) == 6  # 2 of each class's 10
    assert split_instances(items, 0.2, seed=0) == (train, val)


def test_train_space_writes_a_space_that_loads_and_embeds_with_the_trained_adapter(tmp_path, fake_registry):
    data = manifest(tmp_path)
    result = train_space(config(tmp_path, data), registry=fake_registry)
    space_dir = result.space_dir
    assert {p.name for p in space_dir.iterdir()} >= {"space.json", "adapters", "centres", "checkpoint.safetensors"}
    record = read_record(space_dir)
    assert record.modality_centres == {"vec": "centres/vec.safetensors"} and record.centres is None
    vec = record.modalities["vec"]
    assert (vec.encoder, vec.adapter, vec.in_dim) == ("counting", "mlp", fakes.DIM_OUT)
    assert record.metrics["parameters"]["trainable"] == result.parameters["trainable"] > 0
    assert result.parameters["frozen"] == fakes.DIM_IN * fakes.DIM_OUT + fakes.DIM_OUT  # the counting encoder
    assert result.samples["vec"] == {"train": 24, "val": 6}
    assert len(result.failures) == 3
    sidecar = json.loads((space_dir / "adapters" / "vec.json").read_text())
    assert sidecar["encoder"] == "counting" and len(sidecar["data_hash"]) == 24
    last = result.fit.history[-1]
    assert last.val_accuracy["vec"] >= 0.5  # 3 classes, chance 1/3

    space = Space.from_dir(space_dir, registry=fake_registry)
    files = [tmp_path / "data" / f"{i}.vec" for i in range(6)]
    embedded = space.embed_files(files)
    trained = result.fit.adapters["vec"]
    features = space.pipeline("vec").encoder(torch.stack(
        [space.pipeline("vec").encoder.preprocess(space.pipeline("vec").loader.load(f)) for f in files]))
    assert torch.allclose(embedded.vectors, torch.nn.functional.normalize(trained(features), dim=-1), atol=1e-5)
    predictions, _ = space.classify(files, list(LABELS))
    assert sum(p.label == LABELS[i % 3] for i, p in enumerate(predictions)) >= 4

    # an interrupted run's checkpoint is reused: a rerun trains nothing and encodes nothing
    again = train_space(config(tmp_path, data), registry=fake_registry)
    assert again.fit.resumed_from == len(result.fit.history) and again.encoded == {"vec": 0}


def test_a_rerun_after_kill_9_removes_the_temps_the_killed_run_left(tmp_path, fake_registry):
    import os
    import signal
    import subprocess
    import sys

    from unibind.features import FeatureCache, FrozenEncoder

    data = manifest(tmp_path)
    cache_dir = FeatureCache(tmp_path / "features", FrozenEncoder.from_registry("vec", registry=fake_registry).identity).dir
    writer = ("import sys, time\nfrom unibind.atomic import atomic_path\n"
              "with atomic_path(sys.argv[1]) as tmp:\n    tmp.write_bytes(b'x' * 4096)\n"
              "    print('ready', flush=True)\n    time.sleep(120)\n")
    for target in (tmp_path / "space" / "checkpoint.safetensors", cache_dir / "shard.npy"):
        proc = subprocess.Popen([sys.executable, "-c", writer, str(target)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        os.kill(proc.pid, signal.SIGKILL)                     # as kill -9 of train mid-write
        proc.wait()
    left = sorted((tmp_path / "space").glob(".*.tmp")) + sorted(cache_dir.glob(".*.tmp"))
    assert len(left) == 2
    result = train_space(config(tmp_path, data), registry=fake_registry)
    assert sorted(result.removed_temps) == sorted(left) and not any(p.exists() for p in left)
    assert list(tmp_path.rglob(".*.tmp")) == []


def test_loading_refuses_an_adapter_trained_on_another_encoder(tmp_path, fake_registry):
    result = train_space(config(tmp_path, manifest(tmp_path)), registry=fake_registry)
    record_path = result.space_dir / "space.json"
    record = json.loads(record_path.read_text())
    sidecar_meta = record["modalities"]["vec"]
    sidecar_meta["encoder"] = "other-encoder"
    record_path.write_text(json.dumps(record))
    with pytest.raises(Exception, match="no encoder named 'other-encoder'"):
        Space.from_dir(result.space_dir, registry=fake_registry).pipeline("vec")
    # same encoder name in space.json but the file says another: refused, naming the file (a space from
    # before space.json recorded its files' digests, which would refuse the replaced file first)
    sidecar_meta["encoder"] = "counting"
    record["files"] = {}
    record_path.write_text(json.dumps(record))
    from unibind.adapters.mlp import MLPAdapter, MLPAdapterSettings

    MLPAdapter(MLPAdapterSettings(hidden=8), in_dim=fakes.DIM_OUT, out_dim=64).save(
        result.space_dir / "adapters" / "vec.safetensors", encoder="resnet")
    with pytest.raises(InputError, match=r"vec\.safetensors.*encoder='resnet', not 'counting'"):
        Space.from_dir(result.space_dir, registry=fake_registry).pipeline("vec")
    with pytest.raises(InputError, match="no space.json"):
        Space.from_dir(tmp_path, registry=fake_registry)
