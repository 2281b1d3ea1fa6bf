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

from unibind.encoders.base import Encoder, ImageBackedEncoder
from unibind_plugin_event.events import EventStream
from unibind_plugin_event.render import render
from unibind_plugin_event.settings import EventRenderSettings


class EventRenderEncoder(ImageBackedEncoder):
    """Event stream -> ``n_frames`` RGB renderings -> image encoder -> pooled ``[N, dim]``."""

    modality = "event"
    needed_by = "event-render"

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


def _as_stream(sample: EventStream | np.ndarray) -> EventStream:
    if isinstance(sample, EventStream):
        return sample
    if isinstance(sample, np.ndarray) and sample.dtype.names and {"x", "y", "t", "p"} <= set(sample.dtype.names):
        return EventStream.from_array(sample)
    raise TypeError(f"the event encoder takes EventStream samples (load files with the event modality) or "
                    f"structured arrays with fields x, y, t, p; got {type(sample).__name__}")


def build_event_render(settings: EventRenderSettings, *, image_encoder: Encoder | None = None,
                       **_: Any) -> EventRenderEncoder:
    """Factory of ``event-render``; pass ``image_encoder`` to share one already built."""
    return EventRenderEncoder.from_settings(settings, image_encoder=image_encoder)
