"""The records of the knowledge base, validated on the way in and on the way out.

Sources hand the builder :class:`DescriptionDraft` and :class:`Rejected` items;
the store keeps :class:`Description` records, each with its
:class:`Provenance`. Nothing here imports torch.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: The two kinds of text the knowledge base holds (the paper's sections 3.2 (2) and (3)).
Kind = Literal["class_description", "sample_caption"]

#: A description longer than this is refused: it is not a description, it is a document.
MAX_TEXT_CHARS = 2000

WORDNET_ID = re.compile(r"^[nvasr]\d{8}$")
REASON = r"^[a-z0-9][a-z0-9_.-]*$"


def normalise_text(text: str) -> str:
    """The form two descriptions are compared in for deduplication.

    Unicode NFKC (so full-width letters and ligatures match their plain
    form), case folded, runs of whitespace collapsed to one space, and
    trailing punctuation dropped ("A dog." and "a dog" are the same
    description). The stored text keeps its original form.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = " ".join(text.split())
    end = len(text)
    while end and (unicodedata.category(text[end - 1]).startswith("P") or text[end - 1].isspace()):
        end -= 1
    return text[:end]


def settings_hash(source: str, settings: BaseModel | dict[str, Any] | None) -> str:
    """A short stable hash of a source's name and validated settings (the job key)."""
    if isinstance(settings, BaseModel):
        settings = settings.model_dump(mode="json")
    payload = json.dumps({"source": source, "settings": settings or {}}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ClassRef(BaseModel):
    """A class as the user names it, with an optional WordNet/ImageNet id ("n02084071")."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, description="Class name as given (underscores read as spaces).")
    class_id: str | None = Field(default=None, description="WordNet/ImageNet id such as 'n02084071'.")

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("class name is empty")
        return value

    @field_validator("class_id")
    @classmethod
    def _check_id(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not WORDNET_ID.match(value):
            raise ValueError(f"class id {value!r} is not a WordNet id like 'n02084071'")
        return value

    @property
    def key(self) -> str:
        """What identifies the class in the store: its id when it has one, else its name."""
        return self.class_id or self.name

    @property
    def text_name(self) -> str:
        """The name as words, for prompts ("golden_retriever" -> "golden retriever")."""
        return self.name.replace("_", " ")

    @classmethod
    def parse(cls, line: str) -> ClassRef:
        """``"dog"``, ``"n02084071 dog"`` or ``"n02084071\\tdog"``; a bare id is also a name."""
        line = line.strip()
        head, _, rest = line.partition("\t") if "\t" in line else line.partition(" ")
        if WORDNET_ID.match(head) and rest.strip():
            return cls(name=rest, class_id=head)
        return cls(name=line, class_id=line if WORDNET_ID.match(line) else None)


class SampleRef(BaseModel):
    """One data sample a captioner describes: a file, its modality and content hash."""

    model_config = ConfigDict(frozen=True)

    path: str
    modality: str
    sha256: str = Field(description="Content hash: the sample's identity in the store.")
    label: ClassRef | None = Field(default=None, description="The sample's class, when known.")

    @classmethod
    def from_path(cls, path: str | Path, modality: str, label: ClassRef | None = None) -> SampleRef:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return cls(path=str(path), modality=modality, sha256=digest.hexdigest(), label=label)

    def load(self, registry: Any = None) -> Any:
        """The sample as the modality's registered loader reads it."""
        if registry is None:
            from unibind.plugins import get_registry

            registry = get_registry()
        return registry.get("modality", self.modality).build().load(self.path)


class DescriptionDraft(BaseModel):
    """One text a source produced, before the store accepts it."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    prompt: str | None = Field(default=None, description="The prompt or template that produced it.")
    model: str | None = Field(default=None, description="Overrides the source's model for this item.")
    modality: str | None = Field(default=None, description="Modality it speaks of; None: any.")
    sample: str | None = Field(default=None, description="Captions: the sample's sha256 (builder fills it).")
    meta: dict[str, Any] = Field(default_factory=dict, description="Source-specific extras (JSON).")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = value.strip()
        if not normalise_text(value):
            raise ValueError("text is empty once normalised")
        return value


class Rejected(BaseModel):
    """An item a source generated and threw away, and why (counted, never stored)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(pattern=REASON, description="Short code: empty, repeated, truncated, off_class, ...")
    text: str | None = None
    detail: str = ""


class Provenance(BaseModel):
    """Where a description came from."""

    plugin: str = Field(default="", description="The plugin that registered the source.")
    source: str = Field(description="Registered name of the description source.")
    model: str | None = None
    prompt: str | None = None
    seed: int | None = None
    settings_hash: str = Field(description="Hash of the source's name and settings.")
    created_at: str = Field(default_factory=now)


class Description(BaseModel):
    """A stored description of a class (or a caption of one sample of it)."""

    id: int | None = Field(default=None, description="Row id in the store; None before it is stored.")
    class_name: str = Field(min_length=1)
    class_id: str | None = None
    kind: Kind = "class_description"
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    modality: str | None = None
    sample: str | None = Field(default=None, description="Captions: sha256 of the described sample.")
    sample_path: str | None = None
    provenance: Provenance
    meta: dict[str, Any] = Field(default_factory=dict)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not normalise_text(value):
            raise ValueError("text is empty once normalised")
        return value

    @property
    def class_ref(self) -> ClassRef:
        return ClassRef(name=self.class_name, class_id=self.class_id)

    @property
    def normalised(self) -> str:
        return normalise_text(self.text)


class JobState(BaseModel):
    """Progress of one build job: one class (or sample) x source x settings x modality x seed."""

    class_key: str
    kind: Kind
    sample: str = ""
    source: str
    settings_hash: str
    modality: str = ""
    seed: int = 0
    requested: int = 0
    cursor: int = Field(default=0, description="Items of the source's stream consumed and committed.")
    generated: int = 0
    kept: int = 0
    rejected: dict[str, int] = Field(default_factory=dict)
    exhausted: bool = Field(default=False, description="The source's stream ended.")
    error: str | None = None
    updated_at: str = Field(default_factory=now)

    def finished(self, requested: int) -> bool:
        """Done for a request of ``requested`` kept items."""
        return self.kept >= requested or (self.exhausted and self.requested >= requested)
