"""Settings of the WordNet description source (pydantic, documented defaults)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: The relations the source turns into sentences, in the order the stream interleaves them.
Relation = Literal["gloss", "synonyms", "hypernyms", "examples", "parts", "wholes", "hyponyms"]
RELATIONS: tuple[Relation, ...] = ("gloss", "synonyms", "hypernyms", "examples", "parts", "wholes", "hyponyms")

#: How an ambiguous name picks one sense (see :mod:`unibind_plugin_wordnet.resolve`).
Rule = Literal["imagenet", "physical", "frequent"]

#: Where Debian's ``wordnet-base`` installs WordNet 3.0.
DEBIAN_WORDNET_DIR = Path("/usr/share/wordnet")


class WordNetSettings(BaseModel):
    """What the WordNet source reads, which relations it writes about and how it picks a sense."""

    model_config = ConfigDict(extra="forbid")

    wordnet_dir: Path = Field(
        default=DEBIAN_WORDNET_DIR,
        description="Directory of WordNet database files (data.noun, index.noun, ...): Debian's "
                    "wordnet-base puts WordNet 3.0 in /usr/share/wordnet.")
    relations: list[Relation] = Field(
        default_factory=lambda: list(RELATIONS),
        description="Relations turned into sentences; the stream takes one of each in turn.")
    hypernym_depth: int = Field(default=6, ge=0, le=20,
                                description="Ancestors named in the 'kind of' chain (abstract tops skipped).")
    hyponym_depth: int = Field(default=2, ge=0, le=5, description="Levels of narrower kinds to name.")
    max_hyponyms: int = Field(default=40, ge=0, description="Narrower kinds named at most.")
    max_parts: int = Field(default=20, ge=0,
                           description="Parts and materials named at most (own first, then inherited).")
    rule: Rule = Field(
        default="imagenet",
        description="Ambiguous names: 'imagenet' prefers an ImageNet-1k class, then a physical thing, "
                    "then the most frequent sense; 'physical' skips the ImageNet step; 'frequent' takes "
                    "WordNet's first (most frequent) sense.")
    imagenet_synsets: Path | None = Field(
        default=None,
        description="File of ImageNet-1k ids (one 'n########' per line) for the 'imagenet' rule; "
                    "default: timm's imagenet_synsets.txt when timm is installed.")
    senses: dict[str, str] = Field(
        default_factory=dict,
        description="Fixed senses by class name: {'mouse': 'mouse.n.01'} or {'crane': 'n02012849'}.")
    head_noun_fallback: bool = Field(
        default=True,
        description="A multi-word name WordNet lacks ('ankle boot') resolves to its last word ('boot') "
                    "and is described as a kind of it.")
    subject: Literal["class", "lemma"] = Field(
        default="class",
        description="Name the class in sentences as the user wrote it, or by the WordNet lemma it matched.")
