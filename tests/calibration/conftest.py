"""A registry where the text modality runs on the hashing test encoder and a scripted captioner reads text.

Texts that share words are similar under the hashing encoder, so a text file's content decides
which class it is near, with no model to load; the captioner captions a file with its stem.
"""

from __future__ import annotations

import pytest

from unibind.plugins import reset_plugin_manager
from unibind.specs import DescriptionSourceSpec, EncoderSpec


@pytest.fixture
def registry(make_plugin, manager_with):
    def encoders(register):
        register(EncoderSpec(name="hashing", modality="text", default=True, priority=100,
                             factory="unibind.knowledge.testing:build_hashing_encoder",
                             settings="unibind.knowledge.testing:HashingSettings"))

    def captioners(register):   # "dog.txt" -> "dog <word> view 0"
        register(DescriptionSourceSpec(name="fake-captioner", factory="unibind.knowledge.testing:ScriptedCaptioner",
                                       produces=("sample_captions",), modalities=("text",)))

    manager = manager_with({"fakes": make_plugin("fakes", unibind_encoders=encoders,
                                                 unibind_description_sources=captioners)})
    reset_plugin_manager(manager)
    return manager.registry
