"""Calibration before fusion and the fusion heads, on simulated two-modality features (named so)."""

from __future__ import annotations

import pytest
import torch

from unibind.adapters.linear import LinearAdapter
from unibind.calibration.prefusion import PreFusionCalibration, PreFusionSettings
from unibind.fusion import (
    FusionClassifier,
    FusionSettings,
    add_noise,
    drop_modality,
    predict,
    swap_modality,
    train_fusion,
)

MODS = ["image", "audio"]


def simulated_pairs(n: int, seed: int, dims=(16, 12), classes: int = 3, corrupt: float = 0.0):
    """Two modalities whose features are class means plus noise; a share ``corrupt`` of the image
    features replaced by large noise (returned as a mask so tests can look at those instances)."""
    g = torch.Generator().manual_seed(seed)
    means = {m: torch.randn(classes, d, generator=torch.Generator().manual_seed(100 + i)) * 2
             for i, (m, d) in enumerate(zip(MODS, dims))}
    labels = torch.randint(classes, (n,), generator=g)
    feats = {m: means[m][labels] + torch.randn(n, means[m].shape[1], generator=g) for m in MODS}
    bad = torch.rand(n, generator=g) < corrupt
    feats["image"][bad] = torch.randn(int(bad.sum()), dims[0], generator=g) * 6
    return feats, torch.ones(n, 2, dtype=torch.bool), labels, bad


def test_untrained_module_is_the_identity_on_present_modalities_and_zero_on_absent():
    feats, presence, _, _ = simulated_pairs(8, 0)
    presence[:3, 1] = False
    module = PreFusionCalibration({"image": 16, "audio": 12}, PreFusionSettings(enabled=True)).eval()
    out = module(feats, presence)
    assert torch.allclose(out["image"], feats["image"])
    assert torch.allclose(out["audio"][3:], feats["audio"][3:])
    assert out["audio"][:3].abs().sum() == 0
    assert set(module.last_gates) == {"instance", "dimension"}
    assert module.last_gates["dimension"]["audio"].shape == (8, 12)


def test_sequences_are_summarised_by_their_mean_and_gated_at_every_step():
    module = PreFusionCalibration({"image": 6, "audio": 4}, PreFusionSettings(enabled=True))
    with torch.no_grad():
        for block in module.dimension.values():
            block[-1].bias.fill_(-3.0)  # dimension gates far below one
    x = {"image": torch.randn(5, 7, 6), "audio": torch.randn(5, 4)}
    with torch.no_grad():
        out = module.eval()(x, torch.ones(5, 2, dtype=torch.bool))
    assert out["image"].shape == (5, 7, 6)
    ratio = out["image"] / x["image"]
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio))  # same gate at every step
    assert float(ratio.max()) < 0.2


def test_trained_gates_damp_a_corrupted_modality():
    feats, presence, labels, bad = simulated_pairs(300, 1, corrupt=0.3)
    settings = FusionSettings(head="mean", epochs=60, batch_size=300, lr=1e-2,
                              prefusion=PreFusionSettings(enabled=True, dropout=0.0))
    torch.manual_seed(0)  # the initial weights, whatever ran before (train_fusion seeds only the training)
    model = train_fusion(FusionClassifier({"image": 16, "audio": 12}, 3, settings), feats, presence, labels)
    test, presence_t, _, bad_t = simulated_pairs(200, 2, corrupt=0.5)
    out = model.prefusion(test, presence_t)
    kept = (out["image"].norm(dim=1) / test["image"].norm(dim=1)).detach()  # instance x dimension gates
    assert kept[bad_t].mean() < 0.7 * kept[~bad_t].mean()


@pytest.mark.parametrize("head", ["mean", "concat", "attention"])
def test_every_head_learns_and_ignores_what_is_absent(head):
    feats, presence, labels, _ = simulated_pairs(300, 3)
    settings = FusionSettings(head=head, epochs=40, batch_size=300, lr=1e-2,
                              prefusion=PreFusionSettings(enabled=head == "attention"))
    model = train_fusion(FusionClassifier({"image": 16, "audio": 12}, 3, settings), feats, presence, labels)
    test, presence_t, labels_t, _ = simulated_pairs(200, 4)
    assert (predict(model, test, presence_t).argmax(1) == labels_t).float().mean() > 0.9
    dropped, presence_d = drop_modality(test, presence_t, MODS, "audio")
    scrambled = {**dropped, "audio": torch.randn_like(test["audio"]) * 50}  # absent: values must not matter
    expected = predict(model, dropped, presence_d)
    assert torch.allclose(expected, predict(model, scrambled, presence_d), atol=1e-6)
    assert (predict(model, dropped, presence_d).argmax(1) == labels_t).float().mean() > 0.8


def test_calibration_is_off_by_default_and_adapters_train_with_the_module():
    assert FusionClassifier({"image": 4, "audio": 4}, 2).prefusion is None
    feats, presence, labels, _ = simulated_pairs(120, 5)
    adapters = {"image": LinearAdapter(in_dim=16, out_dim=8), "audio": LinearAdapter(in_dim=12, out_dim=8)}
    before = adapters["image"].linear.weight.clone()
    settings = FusionSettings(epochs=2, batch_size=60, prefusion=PreFusionSettings(enabled=True))
    model = FusionClassifier({"image": 16, "audio": 12}, 3, settings, adapters)
    model = train_fusion(model, feats, presence, labels)
    assert model.prefusion.dimension["image"][-1].out_features == 8  # gates act on the adapted features
    assert not torch.equal(model.adapters["image"].linear.weight, before)


def test_bad_inputs_get_clear_errors():
    model = FusionClassifier({"image": 16, "audio": 12}, 3)
    feats, presence, _, _ = simulated_pairs(4, 6)
    with pytest.raises(ValueError, match="audio.*missing"):
        model({"image": feats["image"]}, presence)
    with pytest.raises(ValueError, match=r"presence must be \[B, 2\]"):
        model(feats, presence[:, :1])
    with pytest.raises(ValueError, match="at least one present"):
        model(feats, torch.zeros(4, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="at least two modalities"):
        PreFusionCalibration({"image": 3})


def test_test_conditions_do_what_they_say():
    feats, presence, _, _ = simulated_pairs(50, 7)
    g = torch.Generator().manual_seed(0)
    swapped = swap_modality(feats, "audio", g)
    assert torch.equal(swapped["image"], feats["image"])
    same_row = (swapped["audio"] == feats["audio"]).all(1)
    assert not bool(same_row.any())  # nobody keeps its own
    assert sorted(swapped["audio"].sum(1).tolist()) == pytest.approx(sorted(feats["audio"].sum(1).tolist()))
    noisy = add_noise(feats, "image", 2.0, g)
    ratio = (noisy["image"] - feats["image"]).norm(dim=1) / feats["image"].norm(dim=1)
    assert torch.allclose(ratio, torch.full((50,), 2.0), atol=1e-4)
    _, dropped = drop_modality(feats, presence, MODS, "image")
    assert not bool(dropped[:, 0].any()) and bool(dropped[:, 1].all())


def test_conflict_training_swaps_one_modality_of_some_instances_and_keeps_the_rest():
    from unibind.fusion import _swap_some

    feats, _, _, _ = simulated_pairs(400, 8)
    out = _swap_some(feats, MODS, 0.5, torch.Generator().manual_seed(0))
    changed = {m: ~(out[m] == feats[m]).all(1) for m in MODS}
    assert not bool((changed["image"] & changed["audio"]).any())  # at most one modality per instance
    share = float((changed["image"] | changed["audio"]).float().mean())
    assert 0.4 < share < 0.6
    assert torch.equal(feats["image"], simulated_pairs(400, 8)[0]["image"])  # inputs untouched


def test_one_seed_gives_the_same_head_with_and_without_the_module():
    heads = []
    for enabled in (False, True):
        torch.manual_seed(0)
        settings = FusionSettings(head="attention", prefusion=PreFusionSettings(enabled=enabled))
        heads.append(FusionClassifier({"image": 16, "audio": 12}, 3, settings))
    plain, gated = heads
    assert all(torch.equal(a, b) for a, b in zip(plain.head.parameters(), gated.head.parameters()))
    assert torch.equal(plain.project["image"].weight, gated.project["image"].weight)
