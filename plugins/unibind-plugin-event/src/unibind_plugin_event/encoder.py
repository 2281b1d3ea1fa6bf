"""The event-render encoder: draw the stream's time slices, let an image encoder see them, pool.

No event-camera network ships with weights usable offline, but EventCLIP
showed that frozen image encoders recognise rendered event histograms. So
this encoder borrows one through the registry (by name, or the image
modality's default; never imported from the image plugin): each of
``n_frames`` slices becomes an RGB picture, the image encoder embeds the
pictures, and their features are pooled over time (mean by default). The
dimension, frozen weights and ImageNet head are the image encoder's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from unibind.encoders.base import Encoder
from unibind.specs import Spec
from unibind_plugin_event.events import EventStream
from unibind_plugin_event.render import render
from unibind_plugin_event.settings import EventRenderSettings


class EventRenderEncoder(Encoder):
    """Event stream -> ``n_frames`` RGB renderings -> image encoder -> pooled ``[N, dim]``."""

    modality = "event"

    def __init__(self, settings: EventRenderSettings, image_encoder: Encoder):
        super().__init__()
        self.settings = settings
        self.image = image_encoder
        self.dim = int(image_encoder.dim)
        self.freeze()

    def render(self, sample: EventStream | np.ndarray):
        """The pictures the image encoder sees (PIL RGB, one per time slice), for inspection."""
        return render(_as_stream(sample), self.settings)

    def preprocess(self, sample: EventStream | np.ndarray) -> torch.Tensor:
        """``[n_frames, C, H, W]``: each slice preprocessed the image encoder's own way."""
        return torch.stack([self.image.preprocess(picture) for picture in self.render(sample)])

    def collate(self, items: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.stack(list(items))

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        n, frames = batch.shape[:2]
        features = self.image(batch.flatten(0, 1)).reshape(n, frames, -1)
        if self.settings.pooling == "max":
            return features.amax(dim=1)
        return features.mean(dim=1)

    def imagenet_head(self) -> nn.Linear | None:
        """The image encoder's 1000-way ImageNet classifier, if it has one.

        Mean pooling keeps features in the space the head was trained on (a
        mean of features the head reads), so the image plugin's training-free
        ImageNet bridge can carry event features into the text space too.
        """
        head = getattr(self.image, "imagenet_head", None)
        return head() if callable(head) else None


def _as_stream(sample: EventStream | np.ndarray) -> EventStream:
    if isinstance(sample, EventStream):
        return sample
    if isinstance(sample, np.ndarray) and sample.dtype.names and {"x", "y", "t", "p"} <= set(sample.dtype.names):
        return EventStream.from_array(sample)
    raise TypeError(f"the event encoder takes EventStream samples (load files with the event modality) or "
                    f"structured arrays with fields x, y, t, p; got {type(sample).__name__}")


def image_encoder_spec(settings: EventRenderSettings) -> Spec:
    """The image encoder named in the settings, or the image modality's default, from the registry."""
    from unibind.plugins import get_registry

    return get_registry().encoder_for("image", settings.image_encoder, needed_by="event-render")


def build_event_render(settings: EventRenderSettings, *, image_encoder: Encoder | None = None,
                       **_: Any) -> EventRenderEncoder:
    """Factory of ``event-render``; pass ``image_encoder`` to share one already built."""
    if image_encoder is None:
        image_encoder = image_encoder_spec(settings).build(settings.image_encoder_settings or None)
    return EventRenderEncoder(settings, image_encoder)
