"""Sampling replies from a causal LM: seeded, batched, stopped at the end of the list."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from unibind_plugin_llm_transformers.settings import LLMSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    text: str
    tokens: int
    eos: bool = False  #: the model ended the text itself


class _ListEnded:
    """Stops a row once its continuation has a blank line or more lines than are read."""

    def __init__(self, tokenizer: Any, prompt_len: int, lines: int):
        self.tokenizer, self.prompt_len, self.lines = tokenizer, prompt_len, lines

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_len:], skip_special_tokens=True)
        return torch.tensor([("\n\n" in t) or t.count("\n") > self.lines for t in texts],
                            dtype=torch.bool, device=input_ids.device)


def shared_prompt_cache(lm: Any, ids: Any, rows: int) -> Any:
    """The prompt (all but its last token) run once and its KV cache copied to ``rows`` rows.

    ``generate(num_return_sequences=n)`` would run the same few-shot prompt n
    times; on a CPU that costs as much as the replies themselves.
    """
    from transformers import DynamicCache

    cache = DynamicCache(config=lm.config)
    lm(input_ids=ids[:, :-1], past_key_values=cache, use_cache=True, logits_to_keep=1)
    cache.batch_repeat_interleave(rows)
    return cache


def sample_replies(lm: Any, tokenizer: Any, prompt: str, settings: LLMSettings, seed: int) -> list[Reply]:
    """``settings.batch_size`` continuations of ``prompt``, the same for the same seed."""
    import torch
    from transformers import StoppingCriteriaList

    if settings.threads:
        torch.set_num_threads(settings.threads)
    ids = tokenizer([prompt], return_tensors="pt")["input_ids"]
    prompt_len, n = ids.shape[1], settings.batch_size
    sampling: dict[str, Any] = {"do_sample": settings.temperature > 0}
    if sampling["do_sample"]:
        sampling.update(temperature=settings.temperature, top_p=settings.top_p, top_k=settings.top_k)
    started = time.perf_counter()
    with torch.random.fork_rng(devices=[]), torch.inference_mode():
        cache = shared_prompt_cache(lm, ids, n)
        torch.manual_seed(seed)
        out = lm.generate(
            input_ids=ids.expand(n, -1), attention_mask=torch.ones(n, prompt_len, dtype=torch.long),
            past_key_values=cache, **sampling, max_new_tokens=settings.max_new_tokens,
            repetition_penalty=settings.repetition_penalty, pad_token_id=tokenizer.pad_token_id,
            stopping_criteria=StoppingCriteriaList([_ListEnded(tokenizer, prompt_len, settings.items_per_reply)]),
        )
    new = out[:, prompt_len:]
    replies = []
    for row in new:
        tokens = int((row != tokenizer.pad_token_id).sum())
        eos = tokenizer.eos_token_id is not None and bool((row == tokenizer.eos_token_id).any())
        replies.append(Reply(tokenizer.decode(row, skip_special_tokens=True), tokens, eos))
    seconds = time.perf_counter() - started
    total = sum(r.tokens for r in replies)
    log.info("generated %d tokens in %.1f s (%.1f tokens/s, batch %d)", total, seconds,
             total / max(seconds, 1e-9), settings.batch_size)
    return replies
