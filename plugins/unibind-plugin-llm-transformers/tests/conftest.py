"""A tiny causal LM built from a config in a tmp dir (no downloads), with a BPE tokenizer trained here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

#: The one few-shot example the tiny model is prompted with (short, so tests stay fast).
TINY_EXAMPLES = [{"name": "cat", "descriptions": ["A cat has soft fur and whiskers."]}]

#: What the tiny model learns to continue: the example, then lists about dogs in the source's format.
#: A few minutes of a real LM are replaced by a few seconds of memorising these (simulated) lists.
DOG_LISTS = [
    ["A dog has four legs and a wagging tail.", "A dog barks at strangers.", "A dog likes to play fetch."],
    ["A dog is a loyal animal with soft fur.", "A dog barks at strangers.", "A big dog runs in the park."],
]


def build_tiny_lm(path: Path) -> Path:
    """Save a 2-layer Llama (hidden 32) that has memorised :data:`DOG_LISTS`, and its 300-token BPE."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<pad>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    texts = [_document(items) for items in DOG_LISTS]
    bpe.train_from_iterator(texts * 4, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, pad_token="<pad>", bos_token="<s>",
                                        eos_token="</s>")
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=2048,
                         pad_token_id=0, bos_token_id=1, eos_token_id=2)
    model = LlamaForCausalLM(config)
    _memorise(model, tokenizer, texts)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _document(items: list[str]) -> str:
    from unibind_plugin_llm_transformers.prompt import build_prompt
    from unibind_plugin_llm_transformers.settings import DEFAULT_HEADER, FewShotExample

    prompt = build_prompt(DEFAULT_HEADER, [FewShotExample(**e) for e in TINY_EXAMPLES], "dog")
    return prompt + " " + "\n".join(f"{i}. {t}" if i > 1 else t for i, t in enumerate(items, 1)) + "\n\n"


def _memorise(model, tokenizer, texts: list[str], steps: int = 120) -> None:
    """A few Adam steps on the lists, so sampling writes list-shaped text with some variety."""
    import torch

    batch = tokenizer(texts, return_tensors="pt", padding=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        optimiser.zero_grad()
        model(**batch, labels=labels).loss.backward()
        optimiser.step()
    model.eval()


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_lm(tmp_path_factory.mktemp("tiny-lm"))


@pytest.fixture
def tiny_settings(tiny_lm_dir: Path) -> dict:
    """Settings that run the tiny model fast: short replies, small batches, no ImageNet text."""
    return {"model": str(tiny_lm_dir), "examples": TINY_EXAMPLES, "batch_size": 2, "items_per_reply": 3,
            "max_new_tokens": 40, "imagenet": False}
