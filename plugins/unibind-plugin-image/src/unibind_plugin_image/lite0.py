"""EfficientNet-Lite0 in plain torch, and timm's eval preprocessing for it in Pillow.

Why not timm at run time: importing timm imports torchvision, whose ``ops``
import ``torch._dynamo``; together that costs about as much as importing
torch itself, and every ``unibind embed`` / ``classify`` of the default image
encoder paid it. The network here is timm's ``tf_efficientnet_lite0`` layer
for layer, with the same module names, so the state dict (and with it the
encoder's identity and every cached feature) is the same; the tests check it
against timm's model and transform on real photos. Any other timm model, and
the crop modes other than ``center``, still go through timm.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

#: timm's pretrained config of ``tf_efficientnet_lite0`` (``resolve_data_config`` order and values).
DATA_CONFIG = {"input_size": (3, 224, 224), "interpolation": "bicubic", "mean": (0.5, 0.5, 0.5),
               "std": (0.5, 0.5, 0.5), "crop_pct": 0.875, "crop_mode": "center"}
#: (blocks, kernel, stride of the first block, output channels) of the inverted-residual stages.
_STAGES = ((2, 3, 2, 24), (2, 5, 2, 40), (3, 3, 2, 80), (3, 5, 1, 112), (4, 5, 2, 192), (1, 3, 1, 320))
_EXPAND = 6
_BN_EPS = 1e-3  # TensorFlow's batch-norm epsilon, as the weights were trained with
_PIL_FILTERS = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
                "bicubic": Image.Resampling.BICUBIC, "box": Image.Resampling.BOX,
                "hamming": Image.Resampling.HAMMING, "lanczos": Image.Resampling.LANCZOS}


class _BatchNormAct(nn.BatchNorm2d):
    """Batch norm, then ReLU6 if ``act`` (timm's BatchNormAct2d: same tensors, no others)."""

    def __init__(self, channels: int, act: bool):
        super().__init__(channels, eps=_BN_EPS)
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = super().forward(x)
        return F.relu6(x) if self.act else x


class _SameConv(nn.Conv2d):
    """A strided convolution with TensorFlow's "same" padding (more on the bottom/right when odd)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(x.shape[-2:], self.kernel_size, self.stride):
            pad = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads.append((pad // 2, pad - pad // 2))
        (top, bottom), (left, right) = pads
        return super().forward(F.pad(x, (left, right, top, bottom)))


def _depthwise(channels: int, kernel: int, stride: int) -> nn.Conv2d:
    if stride == 1:  # "same" is symmetric then: timm uses static padding too
        return nn.Conv2d(channels, channels, kernel, 1, kernel // 2, groups=channels, bias=False)
    return _SameConv(channels, channels, kernel, stride, 0, groups=channels, bias=False)


class _DepthwiseSeparable(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv_dw = _depthwise(cin, 3, 1)
        self.bn1 = _BatchNormAct(cin, act=True)
        self.conv_pw = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn2 = _BatchNormAct(cout, act=False)
        self.skip = cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv_pw(self.bn1(self.conv_dw(x))))
        return out + x if self.skip else out


class _InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int):
        super().__init__()
        mid = cin * _EXPAND
        self.conv_pw = nn.Conv2d(cin, mid, 1, bias=False)
        self.bn1 = _BatchNormAct(mid, act=True)
        self.conv_dw = _depthwise(mid, kernel, stride)
        self.bn2 = _BatchNormAct(mid, act=True)
        self.conv_pwl = nn.Conv2d(mid, cout, 1, bias=False)
        self.bn3 = _BatchNormAct(cout, act=False)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn3(self.conv_pwl(self.bn2(self.conv_dw(self.bn1(self.conv_pw(x))))))
        return out + x if self.skip else out


class EfficientNetLite0(nn.Module):
    """timm's ``tf_efficientnet_lite0`` (same tensors, names and order), inference only."""

    num_features = 1280

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.conv_stem = _SameConv(3, 32, 3, 2, 0, bias=False)
        self.bn1 = _BatchNormAct(32, act=True)
        stages: list[nn.Module] = [nn.Sequential(_DepthwiseSeparable(32, 16))]
        cin = 16
        for blocks, kernel, stride, cout in _STAGES:
            stage = []
            for i in range(blocks):
                stage.append(_InvertedResidual(cin, cout, kernel, stride if i == 0 else 1))
                cin = cout
            stages.append(nn.Sequential(*stage))
        self.blocks = nn.Sequential(*stages)
        self.conv_head = nn.Conv2d(cin, self.num_features, 1, bias=False)
        self.bn2 = _BatchNormAct(self.num_features, act=True)
        self.classifier = nn.Linear(self.num_features, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn2(self.conv_head(self.blocks(self.bn1(self.conv_stem(x)))))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return x if pre_logits else self.classifier(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Linear:
        return self.classifier


def centre_crop_tensor(image: Image.Image, config: dict) -> torch.Tensor | None:
    """timm's eval transform for ``crop_mode='center'`` on an RGB picture, in Pillow; ``None`` if
    the config asks for anything else (then timm's own transform is used).

    Short side to ``floor(size / crop_pct)`` with Pillow's filter, centre crop, scale to 0-1,
    normalise: the calls torchvision makes for a PIL image, so the result is identical.
    """
    _, height, width = config["input_size"]
    if config.get("crop_mode", "center") != "center" or height != width \
            or config["interpolation"] not in _PIL_FILTERS:
        return None
    short = math.floor(height / config["crop_pct"])
    w, h = image.size
    new_w, new_h = (short, int(short * h / w)) if w <= h else (int(short * w / h), short)
    if (new_w, new_h) != (w, h):
        image = image.resize((new_w, new_h), _PIL_FILTERS[config["interpolation"]])
    if new_w < width or new_h < height:  # only with crop_pct > 1, which the settings refuse
        return None
    top, left = int(round((new_h - height) / 2.0)), int(round((new_w - width) / 2.0))
    image = image.crop((left, top, left + width, top + height))
    pixels = torch.from_numpy(np.array(image, np.uint8, copy=True))
    x = pixels.view(height, width, 3).permute(2, 0, 1).contiguous().to(torch.float32).div(255)
    mean = torch.tensor(config["mean"], dtype=torch.float32).view(-1, 1, 1)
    std = torch.tensor(config["std"], dtype=torch.float32).view(-1, 1, 1)
    return x.sub_(mean).div_(std)
