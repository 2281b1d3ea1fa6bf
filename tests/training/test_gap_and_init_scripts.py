"""Small fixes in scripts/modality_gap.py and scripts/choose_init.py (their pure parts; no real data, no model)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import training_fakes as fakes

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import choose_init  # noqa: E402
import modality_gap  # noqa: E402

from unibind.centring import unit_mean  # noqa: E402
from unibind.knowledge.centres import CentreSet  # noqa: E402
from unibind.training.pipeline import TrainConfig, train_space  # noqa: E402
from unibind.training.trainer import TrainSettings  # noqa: E402


def test_modality_gap_measures_through_the_three_values_stage_from_space_returns(monkeypatch):
    stage = SimpleNamespace(sets=[SimpleNamespace(modality="image", labels=[0, 1]),
                                  SimpleNamespace(modality="audio", labels=[1])])
    result = SimpleNamespace(
        accuracy=[SimpleNamespace(modality="image", method="template mean", accuracy=0.5)],
        retrieval=[SimpleNamespace(query="text", gallery="audio", relevance="class", method="template mean",
                                   recall={5: 0.25})],
        balance=[SimpleNamespace(method="template mean", k=5, shares={"audio": 0.2})],
        gallery_shares={"audio": 0.3},
        gap=SimpleNamespace(rows=[SimpleNamespace(modality="image", gap_to_text=0.4, floor=0.1, alignment=1.0,
                                                  uniformity=-2.0)], pairs={"image-audio": 0.6}))
    monkeypatch.setattr("unibind.evaluation.from_space.stage_from_space",
                        lambda space, sets, title: (stage, [{"source": "x", "reason": "y"}], ["a note"]))
    monkeypatch.setattr("unibind.evaluation.stage.evaluate_stage", lambda stage, **kwargs: result)
    got = modality_gap.measure(object(), [], "t")
    assert got["accuracy"] == {"image": 0.5} and got["recall"] == {"text->audio": {5: 0.25}}
    assert got["audio_share_top5"] == 0.2 and got["gap_image_audio"] == 0.6
    assert got["items"] == {"image": 2, "audio": 1} and got["skipped"] == 1


def test_modality_gap_text_mean_reads_every_saved_centre_set(tmp_path, fake_registry):
    """Trained spaces save one set per modality (centres/<modality>.safetensors), not centres.safetensors."""
    manifest = fakes.write_class_folders(tmp_path / "data", ("bird", "cat"), 4)
    space_dir = train_space(TrainConfig(data=manifest, out=tmp_path / "space", cache_dir=tmp_path / "features",
                                        val_fraction=0.0, train=TrainSettings(epochs=1, batch_size=4),
                                        progress=False), registry=fake_registry).space_dir
    assert not (space_dir / "centres.safetensors").exists()
    saved = CentreSet.load(space_dir / "centres" / "vec.safetensors")
    assert torch.allclose(modality_gap.class_centre_text_mean(space_dir), unit_mean(saved.centres[saved.mask]))


def test_choose_init_works_under_a_relative_work_folder(tmp_path, monkeypatch):
    """Manifests it writes name their files relative to nothing: --work is made absolute before anything uses it."""
    seen = []

    class Stop(Exception):
        pass

    def measure(work):
        seen.append(work)
        raise Stop

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(choose_init, "Measure", measure)
    with pytest.raises(Stop):
        choose_init.main(["--work", "rel/work", "--sets", "mnist", "--seeds", "0"])
    assert seen == [tmp_path / "rel" / "work"] and seen[0].is_absolute() and seen[0].is_dir()
