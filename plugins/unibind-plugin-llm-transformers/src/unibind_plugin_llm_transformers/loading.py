"""Loading a causal LM and its tokenizer once per process, GGUF files through a converted cache.

transformers reads GGUF by parsing the whole file in Python for the config,
again for the tokenizer and again for the tensors (about three minutes for
the 250 MB Gemma file on a busy 2-core machine). The first load therefore
writes the dequantised model, config and tokenizer as an ordinary
safetensors directory in the UniBind cache (renamed into place only when
complete); later loads read that in seconds.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from unibind.errors import InputError, UniBindError
from unibind.paths import cache_dir
from unibind_plugin_llm_transformers.packaged import PACKAGED, packaged_gguf


def resolve(model: str, gguf_file: str | None) -> tuple[str, str | None]:
    """``(directory or hub name, gguf file or None)``; the packaged default becomes its cached file."""
    if model == PACKAGED:
        path = packaged_gguf()
        return str(path.parent), path.name
    path = Path(model).expanduser()
    if path.suffix == ".gguf" and gguf_file is None:
        if not path.is_file():
            raise InputError(model, "no such GGUF file")
        return str(path.parent), path.name
    looks_local = path.is_absolute() or model.startswith((".", "~")) or model.count("/") > 1
    if looks_local and not path.is_dir():
        raise InputError(model, "no such model directory")
    if path.is_dir() and gguf_file is not None and not (path / gguf_file).is_file():
        raise InputError(path / gguf_file, "no such GGUF file in the model directory")
    if path.is_dir() and gguf_file is None and not (path / "config.json").is_file():
        raise InputError(path, "not a transformers model directory (no config.json); "
                               "for a GGUF file give gguf_file")
    return (str(path) if path.is_dir() else model), gguf_file


def converted_dir(directory: str, gguf_file: str) -> Path:
    """Where the dequantised copy of a GGUF file lives (keyed by its path, size and time)."""
    source = Path(directory) / gguf_file
    stat = source.stat()
    key = hashlib.sha256(f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    return cache_dir() / "models" / f"{Path(gguf_file).stem}-{key}-hf"


def _read_gguf(directory: str, gguf_file: str, torch_dtype: Any) -> tuple[Any, Any]:
    """Model and tokenizer from a GGUF file, with or without accelerate installed."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import is_accelerate_available

    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=gguf_file)
    if is_accelerate_available():
        model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=gguf_file, dtype=torch_dtype)
        return model, tokenizer
    # transformers' own GGUF reader and name mapping; only the accelerate-based placement is skipped
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    config = AutoConfig.from_pretrained(directory, gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_config(config, dtype=torch_dtype)
    tensors = load_gguf_checkpoint(str(Path(directory) / gguf_file), return_tensors=True,
                                   model_to_load=model)["tensors"]
    result = model.load_state_dict(tensors, strict=False)
    tied = {"lm_head.weight"} if getattr(config, "tie_word_embeddings", False) else set()
    if set(result.missing_keys) - tied or result.unexpected_keys:
        raise UniBindError(f"{gguf_file}: weights do not match the model: missing {result.missing_keys[:5]}, "
                           f"unexpected {result.unexpected_keys[:5]}")
    model.tie_weights()
    return model, tokenizer


def convert_gguf(directory: str, gguf_file: str) -> Path:
    """The converted copy of a GGUF file, written on first use (atomically: a directory rename)."""
    import torch

    target = converted_dir(directory, gguf_file)
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    model, tokenizer = _read_gguf(directory, gguf_file, torch.float32)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / "config.json").is_file():  # not a concurrent writer winning: a real failure
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


@functools.lru_cache(maxsize=2)
def load_causal_lm(model: str, gguf_file: str | None = None, revision: str | None = None,
                   dtype: str = "float32") -> tuple[Any, Any]:
    """``(model, tokenizer)`` in eval mode, loaded once per process for these arguments."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory, gguf = resolve(model, gguf_file)
    if gguf is not None:
        directory, revision = str(convert_gguf(directory, gguf)), None
    try:
        tokenizer = AutoTokenizer.from_pretrained(directory, revision=revision)
        lm = AutoModelForCausalLM.from_pretrained(directory, revision=revision, dtype=getattr(torch, dtype))
    except OSError as exc:
        raise InputError(model, f"cannot load a causal language model: {exc}") from exc
    lm.eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"  # generation continues at the right end of every row
    return lm, tokenizer
