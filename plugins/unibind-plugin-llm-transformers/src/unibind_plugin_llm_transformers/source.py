"""The ``llm-transformers`` description source: a local causal LM writes class descriptions.

The stream for one class is a fixed sequence of batches. Batch ``b`` is
sampled with a seed derived from (class, settings, seed, b) and always
yields ``batch_size * items_per_reply`` items (drafts and rejections), so
``describe(start=k)`` jumps straight to the batch holding item ``k``
without regenerating the ones before it. Each batch is filtered on its own
(``repeated`` within the batch); a text repeated from an earlier batch is
caught by the knowledge base as ``duplicate``. For an ImageNet class the
package's LLM-written description comes first (setting ``imagenet``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version

from unibind.knowledge.filters import DescriptionFilter, clean_candidate
from unibind.knowledge.records import ClassRef, DescriptionDraft, Rejected
from unibind_plugin_llm_transformers.generation import Reply, sample_replies
from unibind_plugin_llm_transformers.imagenet import imagenet_drafts
from unibind_plugin_llm_transformers.packaged import PACKAGE, PACKAGED
from unibind_plugin_llm_transformers.prompt import build_prompt, read_reply
from unibind_plugin_llm_transformers.settings import LLMSettings

Item = DescriptionDraft | Rejected


def model_label(settings: LLMSettings) -> str:
    """Provenance: which model (and file) wrote the texts."""
    if settings.model == PACKAGED:
        try:
            return f"gemma-3-270m-q4_k_m.gguf ({PACKAGE} {version(PACKAGE)})"
        except PackageNotFoundError:
            return "gemma-3-270m-q4_k_m.gguf"
    return settings.model + (f" [{settings.gguf_file}]" if settings.gguf_file else "")


def batch_seed(cls: ClassRef, settings: LLMSettings, seed: int, batch: int) -> int:
    payload = f"{cls.key}|{settings.model_dump_json()}|{seed}|{batch}".encode()
    return int.from_bytes(hashlib.sha256(payload).digest()[:8], "big") & (2**63 - 1)


class TransformersSource:
    """Few-shot prompts a local causal LM and filters what comes back; loads the model on first use."""

    def __init__(self, settings: LLMSettings | None = None):
        self.settings = settings or LLMSettings()
        self.model = model_label(self.settings)
        self.prompt = self.prompt_for("{class}")

    def prompt_for(self, name: str) -> str:
        return build_prompt(self.settings.header, self.settings.examples, name)

    @property
    def items_per_batch(self) -> int:
        return self.settings.batch_size * self.settings.items_per_reply

    def describe(self, cls: ClassRef, n: int, *, modality: str | None = None, seed: int = 0,
                 start: int = 0) -> Iterator[Item]:
        """Up to ``max_tries * n`` candidates for ``cls``, from item ``start`` of its stream.

        ``modality`` does not change the prompt: the texts describe the class itself.
        """
        packaged = imagenet_drafts(cls) if self.settings.imagenet else []
        yield from packaged[start:]
        start = max(0, start - len(packaged))
        first, offset = divmod(start, self.items_per_batch)
        batches = max(1, math.ceil(self.settings.max_tries * max(n, 1) / self.items_per_batch))
        for batch in range(first, first + batches):
            yield from self.batch(cls, seed, batch)[offset:]
            offset = 0

    def batch(self, cls: ClassRef, seed: int, batch: int) -> list[Item]:
        """The items of one batch: exactly ``items_per_batch`` of them."""
        from unibind_plugin_llm_transformers.loading import load_causal_lm

        s = self.settings
        lm, tokenizer = load_causal_lm(s.model, s.gguf_file, s.revision, s.dtype)
        prompt = self.prompt_for(cls.text_name)
        replies = sample_replies(lm, tokenizer, prompt, s, batch_seed(cls, s, seed, batch))
        return self.parse(cls, replies, prompt=prompt, batch=batch)

    def parse(self, cls: ClassRef, replies: list[Reply], *, prompt: str, batch: int = 0) -> list[Item]:
        """Read ``items_per_reply`` lines of every reply through a fresh filter; pad missing lines."""
        k = self.settings.items_per_reply
        check = DescriptionFilter(cls, self.settings.filter, aliases=self.settings.aliases.get(cls.name, ()))
        items: list[Item] = []
        for r, reply in enumerate(replies):
            lines, ended = read_reply(reply.text, k, reply.eos)
            for i, line in enumerate(lines):
                items.append(check.check(clean_candidate(line), finished=ended or i < len(lines) - 1,
                                         prompt=prompt, meta={"batch": batch, "reply": r, "line": i}))
            why, detail = ("empty", "the list ended") if ended else ("truncated", "the token limit was reached")
            items += [Rejected(reason=why, detail=f"{detail} after {len(lines)} lines")] * (k - len(lines))
        return items
