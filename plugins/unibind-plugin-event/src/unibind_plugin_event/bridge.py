"""The event modality's default adapter: a registered adapter (the image plugin's ImageNet bridge) built
on the event encoder.

The image plugin's ``imagenet-bridge`` serves the image modality only, so
``unibind embed event`` would find no default adapter. The event-render
encoder's features are an image encoder's, with its ImageNet head, so the same
training-free bridge fits them; this adapter builds it through the registry
(never importing the image plugin), which keeps event features in the text
space with no training.
"""

from __future__ import annotations

from typing import Any

from unibind.errors import NotRegisteredError
from unibind_plugin_event.settings import EventBridgeSettings


def build_event_bridge(settings: EventBridgeSettings | None = None, **context: Any):
    """Build the adapter named in the settings with the pipeline's context (encoder, text_encoder, dims)."""
    from unibind.plugins import get_registry

    settings = settings or EventBridgeSettings()
    try:
        spec = get_registry().get("adapter", settings.adapter)
    except NotRegisteredError as exc:
        raise NotRegisteredError(f"event-imagenet-bridge builds {settings.adapter!r}: {exc} "
                                 "(is unibind-plugin-image installed and enabled?)") from exc
    return spec.build(settings.adapter_settings or None, **context)
