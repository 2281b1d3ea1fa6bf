"""The encoder interface every modality plugin implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import nn


class Encoder(nn.Module):
    """Maps a list of samples to a float tensor ``[N, dim]``.

    Split in two so that decoding and preprocessing can run in worker
    processes and be cached: :meth:`preprocess` turns one loaded sample into
    a tensor, :meth:`forward` runs the network on a stacked batch.
    """

    modality: str = ""
    dim: int = 0

    def preprocess(self, sample: Any) -> torch.Tensor:
        raise NotImplementedError

    def collate(self, items: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.stack(list(items))

    def forward(self, batch: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @torch.inference_mode()
    def encode(self, samples: Sequence[Any], batch_size: int = 32) -> torch.Tensor:
        """Preprocess and encode ``samples`` in batches; returns ``[N, dim]`` float32 on the CPU.

        Preprocessing runs on the CPU; each batch then goes to the device the
        encoder's weights are on (see :mod:`unibind.devices`) and comes back.
        """
        if len(samples) == 0:
            return torch.empty(0, self.dim)
        from unibind.devices import module_device, to_device, to_host

        device = module_device(self)
        outputs = []
        for start in range(0, len(samples), batch_size):
            chunk = samples[start:start + batch_size]
            batch = self.collate([self.preprocess(s) for s in chunk])
            outputs.append(to_host(self(to_device(batch, device)).float()))
        return torch.cat(outputs)

    def freeze(self) -> Encoder:
        """Frozen encoders never train: no gradients, eval mode."""
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)
        return self


class ImageBackedEncoder(Encoder):
    """Base of encoders that render their modality into pictures for a registered image encoder.

    No frozen network ships for spectrograms, depth maps, thermal frames or
    event streams, but image encoders read their pictures well. The image
    encoder is found through the registry (never imported from a plugin);
    its dimension and frozen weights become this encoder's, and so does its
    ImageNet head, which stays meaningful while the subclass pools features
    by their mean: the ImageNet bridge then serves the modality untrained.
    """

    #: Named in the error when the image encoder asked for is missing ("thermal-image").
    needed_by: ClassVar[str] = ""

    def __init__(self, settings: Any, image_encoder: Encoder, image_encoder_name: str = ""):
        super().__init__()
        self.settings = settings
        self.image = image_encoder
        self.image_encoder_name = image_encoder_name
        self.dim = int(image_encoder.dim)
        self.freeze()

    def imagenet_head(self) -> nn.Linear | None:
        """The image encoder's 1000-way ImageNet classifier on these features, if it has one."""
        head = getattr(self.image, "imagenet_head", None)
        return head() if callable(head) else None

    @classmethod
    def image_encoder_spec(cls, name: str | None) -> Any:
        """The registered image encoder called ``name``, or the image modality's default."""
        from unibind.plugins import get_registry

        return get_registry().encoder_for("image", name, needed_by=cls.needed_by or cls.__name__)

    @classmethod
    def image_encoder_settings(cls, settings: Any, spec: Any) -> dict[str, Any] | None:
        """The settings the image encoder is built with (the user's, by default)."""
        return dict(getattr(settings, "image_encoder_settings", None) or {}) or None

    @classmethod
    def from_settings(cls, settings: Any, *, image_encoder: Encoder | None = None, **_: Any) -> ImageBackedEncoder:
        """Build with the image encoder the settings name; pass ``image_encoder`` to share one already built."""
        name = getattr(settings, "image_encoder", None) or ""
        if image_encoder is None:
            spec = cls.image_encoder_spec(name or None)
            name = spec.name
            image_encoder = spec.build(cls.image_encoder_settings(settings, spec))
        return cls(settings, image_encoder, name)
