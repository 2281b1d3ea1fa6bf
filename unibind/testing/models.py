"""Tiny Hugging Face models built from a config and saved locally, for tests that need a real one.

Nothing is downloaded: the weights are random (seeded) and the tokenizer is
the one shipped with the default text encoder.
"""

from __future__ import annotations

from pathlib import Path


def save_tiny_bert(path: str | Path, *, layers: int = 1, seed: int = 0) -> Path:
    """A 32-wide BERT with the MiniLM tokenizer in folder ``path`` (loadable by ``hf-text``)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from unibind.encoders.text import minilm_path

    torch.manual_seed(seed)
    BertModel(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=layers, num_attention_heads=2,
                         intermediate_size=64)).save_pretrained(path)
    AutoTokenizer.from_pretrained(str(minilm_path())).save_pretrained(path)
    return Path(path)
