"""A registry where the text modality runs on the hashing test encoder and a scripted captioner reads text.

Texts that share words are similar under the hashing encoder, so a text file's content decides
which class it is near, with no model to load; the captioner captions a file with its stem.
"""

from __future__ import annotations

import pytest

from unibind.knowledge.testing import scripted_captioner_spec


@pytest.fixture
def registry(fake_text_registry):
    return fake_text_registry(scripted_captioner_spec(("text",)))   # "dog.txt" -> "dog <word> view 0"
