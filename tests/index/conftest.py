"""A model-free space for index tests: 'note' and 'chirp' files hold words, embedded like text.

The hashing text encoder (unibind.knowledge.testing) sums one random vector per
word, and both file modalities embed their words the same way, so a query that
shares words with a file is near it: tests can say which hit must come first.
"""

from __future__ import annotations

import sys
import types

import pytest
import torch

from unibind.encoders.base import Encoder
from unibind.knowledge.testing import hashing_embed, hashing_encoder_spec
from unibind.modality import Modality
from unibind.plugins import reset_plugin_manager
from unibind.specs import AdapterSpec, EncoderSpec, ModalitySpec

DIM = 64


class WordsModality(Modality):
    def read(self, path):
        text = path.read_text(encoding="utf-8")
        if not text.strip():
            raise ValueError("empty file")
        return text


class WordsEncoder(Encoder):
    modality, dim = "note", DIM

    def preprocess(self, sample):
        return torch.from_numpy(hashing_embed(sample, DIM))

    def forward(self, batch):
        return batch


@pytest.fixture
def words_registry(make_plugin, manager_with, monkeypatch):
    """Built-ins + hashing text encoder + the 'note' and 'chirp' modalities, installed as THE plugin manager."""
    module = types.ModuleType("index_test_components")
    module.WordsModality, module.WordsEncoder = WordsModality, WordsEncoder
    monkeypatch.setitem(sys.modules, "index_test_components", module)

    def modalities(register):
        for name in ("note", "chirp"):
            register(ModalitySpec(name=name, factory="index_test_components:WordsModality", suffixes=(f".{name}",)))

    def encoders(register):
        register(hashing_encoder_spec())
        for name in ("note", "chirp"):
            register(EncoderSpec(name=f"{name}-words", modality=name, factory="index_test_components:WordsEncoder",
                                 dim=DIM, default=True))

    plugin = make_plugin(
        "words", unibind_modalities=modalities, unibind_encoders=encoders,
        unibind_adapters=lambda register: register(AdapterSpec(
            name="words-identity", factory="unibind.adapters.base:IdentityAdapter", modalities=("note", "chirp"),
            default=True, trainable=False)))
    manager = manager_with({"words": plugin})
    reset_plugin_manager(manager)
    return manager.registry


GALLERY = {
    "dog.note": "a dog barking at the door",
    "cat.note": "a cat sleeping on the sofa",
    "train.note": "a train passing a station",
    "rain.note": "rain falling on a roof",
    "dog.chirp": "dog barking loudly",
    "bird.chirp": "a bird singing in the morning",
    "engine.chirp": "an engine starting",
}


@pytest.fixture
def gallery(tmp_path):
    folder = tmp_path / "gallery"
    folder.mkdir()
    for name, words in GALLERY.items():
        (folder / name).write_text(words, encoding="utf-8")
    (folder / "readme.md").write_text("not a gallery item")
    return folder


@pytest.fixture
def run(words_registry):
    """Run the CLI; returns (exit code, stdout, stderr)."""
    from click.testing import CliRunner
    from unibind_cli.main import cli

    def invoke(*args):
        result = CliRunner().invoke(cli, [str(a) for a in args])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout, result.stderr

    return invoke
