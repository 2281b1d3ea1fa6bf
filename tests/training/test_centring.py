"""Per-modality centring (C3's collapse step) and the balance term against the modality gap."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
import training_fakes as fakes
from test_training_pipeline import config, manifest

from unibind.centring import MEANS, CentredAdapter, centre_rows, load_means, save_means, unit_mean
from unibind.errors import InputError
from unibind.evaluation.features import cached_embeddings
from unibind.evaluation.gap import modality_gap
from unibind.knowledge.centres import CentreSet
from unibind.space import Space
from unibind.spacedir import read_record
from unibind.training.objective import mean_gap
from unibind.training.pipeline import train_command, train_space
from unibind.training.trainer import TrainSettings, fit_adapters


def test_centring_closes_a_constant_shift_between_two_cones():
    gen = torch.Generator().manual_seed(0)
    base = torch.randn(200, 16, generator=gen)
    text = F.normalize(base + 3 * torch.eye(16)[0], dim=-1)
    image = F.normalize(base + 3 * torch.eye(16)[1], dim=-1)
    assert modality_gap(image, text) > 0.5
    centred_text, centred_image = centre_rows(text, unit_mean(text)), centre_rows(image, unit_mean(image))
    assert modality_gap(centred_image, centred_text) < 0.1
    # the same item in both cones is the same point once each cone is centred on its own mean
    assert F.cosine_similarity(centred_image, centred_text).mean() > 0.95


def test_centred_adapter_then_normalise_is_centre_rows():
    inner = torch.nn.Linear(4, 3)
    mean = torch.tensor([0.2, -0.1, 0.3])
    x = torch.randn(5, 4)
    with torch.no_grad():
        assert torch.allclose(F.normalize(CentredAdapter(inner, mean)(x), dim=-1), centre_rows(inner(x), mean),
                              atol=1e-6)


def test_means_file_round_trips_and_refuses_other_dimensions(tmp_path):
    path = save_means(tmp_path / MEANS, {"text": torch.ones(3), "vec": torch.zeros(3)}, {"text": 2, "vec": 5})
    loaded = load_means(path, 3)
    assert set(loaded) == {"text", "vec"} and torch.equal(loaded["text"], torch.ones(3))
    with pytest.raises(InputError, match="shape"):
        load_means(path, 4)
    (tmp_path / "bad.safetensors").write_bytes(b"not a file")
    with pytest.raises(InputError, match="bad.safetensors"):
        load_means(tmp_path / "bad.safetensors")


def _files(tmp_path, n=6):
    return [tmp_path / "data" / f"{i}.vec" for i in range(n)]


def test_a_centred_space_applies_its_means_on_every_path(tmp_path, fake_registry):
    """Embed, text, stored centres, classify and the evaluation's cached path all centre the same way."""
    result = train_space(config(tmp_path, manifest(tmp_path)).model_copy(update={"centre_modalities": True}),
                         registry=fake_registry)
    record = read_record(result.space_dir)
    assert record.means == MEANS and "--centre-modalities" in record.made_from["command"]
    means = load_means(result.space_dir / MEANS)
    assert set(means) == {"vec", "text"}
    assert 0 < float(means["vec"].norm()) < 1 and 0 < float(means["text"].norm()) < 1

    centred = Space.from_dir(result.space_dir, registry=fake_registry)
    plain = Space.from_dir(result.space_dir, registry=fake_registry)
    plain.modality_means = {}                       # the same adapters without the centring
    files = _files(tmp_path)
    want = centre_rows(plain.embed_files(files).vectors, means["vec"])
    assert torch.allclose(centred.embed_files(files).vectors, want, atol=1e-5)
    assert torch.allclose(centred.embed_text(["a dog"]), centre_rows(plain.embed_text(["a dog"]), means["text"]),
                          atol=1e-5)
    cached = cached_embeddings(centred, "vec", files, load=centred.pipeline("vec").loader.load,
                               cache_root=tmp_path / "features")
    assert torch.allclose(cached.vectors, want, atol=1e-5)

    stored = CentreSet.load(result.space_dir / "centres" / "vec.safetensors")  # the modality's own set
    centre_set = centred.centre_set(modality="vec")
    assert torch.allclose(centre_set.centres, centre_rows(stored.centres, means["text"]), atol=1e-6)
    predictions, _ = centred.classify(files[:1], top_k=3)
    scores = {c.label: c.similarity for c in predictions[0].top}
    expected = centre_set.score(want[:1])[0]
    for n, label in enumerate(centre_set.labels):
        assert scores[label] == pytest.approx(float(expected[n]), abs=1e-5)


def test_centred_text_has_its_own_cache_identity_and_the_space_is_not_stale(tmp_path, fake_registry):
    from unibind.identity import identity_hash, space_text_identity

    result = train_space(config(tmp_path, manifest(tmp_path)).model_copy(update={"centre_modalities": True}),
                         registry=fake_registry)
    centred = Space.from_dir(result.space_dir, registry=fake_registry)
    raw = identity_hash(space_text_identity(centred, centred=False))
    assert raw == read_record(result.space_dir).text_identity        # loads without a stale error
    assert identity_hash(space_text_identity(centred)) != raw         # centred vectors never share a cache key


def test_a_space_without_means_embeds_as_before(tmp_path, fake_registry):
    result = train_space(config(tmp_path, manifest(tmp_path)), registry=fake_registry)
    assert read_record(result.space_dir).means is None and not (result.space_dir / MEANS).exists()
    space = Space.from_dir(result.space_dir, registry=fake_registry)
    assert space.modality_means == {} and not isinstance(space.pipeline("vec").adapter, CentredAdapter)


def test_a_missing_means_file_is_named(tmp_path, fake_registry):
    result = train_space(config(tmp_path, manifest(tmp_path)).model_copy(update={"centre_modalities": True}),
                         registry=fake_registry)
    (result.space_dir / MEANS).unlink()
    with pytest.raises(InputError, match="means"):
        Space.from_dir(result.space_dir, registry=fake_registry)


def test_mean_gap_is_the_squared_distance_of_batch_means():
    v = torch.tensor([[2.0, 0.0], [0.0, 3.0]])               # unit rows e0, e1: mean (.5, .5)
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0]])               # mean (1, 0)
    assert float(mean_gap(v, z)) == pytest.approx(0.25 + 0.25)
    assert float(mean_gap(z, z)) == 0.0


def test_the_balance_term_narrows_the_gap_to_the_text_mean():
    def gap_after(weight):
        train, val, positives = fakes.synthetic()
        settings = TrainSettings(epochs=8, batch_size=16, lr=0.02, warmup_steps=2, balance_weight=weight)
        fit = fit_adapters(fakes.adapters(), train, val, positives, settings)
        text = positives.centres[positives.mask]
        with torch.no_grad():
            return max(modality_gap(F.normalize(fit.adapters[m](train[m].features), dim=-1), text) for m in "ab")

    assert gap_after(20.0) < 0.5 * gap_after(0.0)


def test_train_command_names_the_gap_options(tmp_path):
    cfg = config(tmp_path, tmp_path / "x.jsonl", balance_weight=0.5).model_copy(update={"centre_modalities": True})
    words = train_command(cfg).split()
    assert words[words.index("--balance-weight") + 1] == "0.5" and "--centre-modalities" in words
    assert "--balance-weight" not in train_command(config(tmp_path, tmp_path / "x.jsonl"))
    json.dumps(cfg.model_dump(mode="json"))


def test_train_cli_passes_the_gap_options_and_refuses_a_negative_weight(tmp_path, fake_registry):
    from click.testing import CliRunner

    from unibind_cli.main import cli

    args = ["train", "--data", str(manifest(tmp_path)), "--out", str(tmp_path / "space"), "--adapter", "vec=mlp",
            "--epochs", "2", "--batch-size", "8", "--cache-dir", str(tmp_path / "cache"), "--threads", "1"]
    result = CliRunner().invoke(cli, [*args, "--centre-modalities", "--balance-weight", "0.5", "--json"])
    assert result.exit_code == 0, result.output
    record = read_record(tmp_path / "space")
    assert record.means == MEANS and record.metrics["train"]["balance_weight"] == 0.5
    bad = CliRunner().invoke(cli, [*args, "--balance-weight", "-1"])
    assert bad.exit_code != 0 and "--balance-weight" in bad.output and "Traceback" not in bad.output


def test_checkpoint_id_changes_with_the_balance_term_only_when_it_is_on():
    from unibind.training.trainer import AdapterBundle, _run_id
    from unibind.training.objective import Temperature

    train, val, _ = fakes.synthetic()
    bundle = AdapterBundle(fakes.adapters(), Temperature())
    off, on = TrainSettings(), TrainSettings(balance_weight=0.5)
    assert _run_id(off, train, val, bundle) != _run_id(on, train, val, bundle)
    # with the term off the id is what it was before the option existed (checkpoints still resume)
    before = json.dumps([{k: v for k, v in off.model_dump(mode="json").items() if k != "balance_weight"},
                         {m: len(d) for m, d in train.items()}, {m: len(d) for m, d in val.items()},
                         {k: list(v.shape) for k, v in bundle.state_dict().items()}], sort_keys=True)
    import hashlib
    assert _run_id(off, train, val, bundle) == hashlib.sha256(before.encode()).hexdigest()[:16]
