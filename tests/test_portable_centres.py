"""Centres saved with one install of a text model load with a copy of it elsewhere (issue 15).

The model files are copied to another folder with new modification times, as
a new venv or another machine would have them; only a changed weight makes
the centres stale.
"""

import os
import shutil

import pytest
import torch

from unibind.errors import InputError
from unibind.knowledge.centres import CentreSet, CentreSettings, localize
from unibind.knowledge.records import ClassRef
from unibind.knowledge.textcache import TextEmbedder
from unibind.space import Space
from unibind.testing.models import save_tiny_bert


def _space(model):
    return Space(text_encoder="hf-text", settings={"hf-text": {"model": str(model)}})


def test_centres_travel_with_a_copied_model_and_go_stale_with_a_changed_weight(tmp_path, monkeypatch):
    monkeypatch.setenv("UNIBIND_CACHE_DIR", str(tmp_path / "cache"))
    here = save_tiny_bert(tmp_path / "install-a" / "model")
    space = _space(here)
    classes = [ClassRef(name="dog"), ClassRef(name="car"), ClassRef(name="tree")]
    centres = localize(classes, TextEmbedder.from_space(space), CentreSettings(method="name"))
    saved = centres.save(tmp_path / "space" / "centres.safetensors")

    there = tmp_path / "machine-b" / "venv" / "model"
    shutil.copytree(here, there)
    for path in there.rglob("*"):
        os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    moved = tmp_path / "elsewhere" / "centres.safetensors"
    moved.parent.mkdir()
    shutil.copy(saved, moved)
    loaded = _space(there).centre_set(moved)
    assert loaded.meta.encoder_hash == centres.meta.encoder_hash
    text = _space(there).embed_text(["dog"])
    assert torch.allclose(text, space.embed_text(["dog"]), atol=1e-6)

    from safetensors.torch import load_file, save_file

    weights = load_file(there / "model.safetensors")
    name = sorted(weights)[0]
    weights[name] = weights[name].clone()
    weights[name].view(-1)[0] += 0.5
    save_file(weights, there / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(InputError) as refused:
        _space(there).centre_set(moved)
    message = str(refused.value)
    assert "centres.safetensors" in message
    assert ("unibind kb centres --classes dog,car,tree --method name --modality image --reduce max "
            "--text-encoder hf-text --out " + str(moved)) in message
