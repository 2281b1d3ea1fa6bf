"""Start a trainable adapter from the ImageNet text bridge instead of from noise.

The image plugin's bridge, in its linear form, maps features ``x`` to
``E^T (H x + h - mean_c(H x + h))``: the encoder's ImageNet head ``(H, h)``
composed with the text embeddings ``E`` of the 1000 classes, logits centred.
That is one linear layer, so a linear adapter can start exactly there and
training only has to improve on zero-shot. The registered adapter that
requires the encoder's ``imagenet_head()`` capability states that layer through
:meth:`~unibind.adapters.base.Adapter.linear_form`: the core never imports the
image plugin nor reads its buffers.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from unibind.errors import NotRegisteredError, SettingsError

CAPABILITY = "imagenet_head"


def can_bridge(encoder: Any, registry: Any = None) -> bool:
    """Whether ``init='text-bridge'`` can start an adapter on ``encoder`` (what ``init='auto'`` asks)."""
    head_of = getattr(encoder, CAPABILITY, None)
    if not callable(head_of) or not isinstance(head_of(), nn.Linear):
        return False
    if registry is None:
        from unibind.plugins import get_registry

        registry = get_registry()
    return any(getattr(s, "requires", None) == CAPABILITY for s in registry.by_kind("adapter"))


def text_bridge_weights(encoder: Any, text_encoder: Any, registry: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(weight [d_text, d_enc], bias [d_text])`` of the bridge's linear form for ``encoder``."""
    head_of = getattr(encoder, CAPABILITY, None)
    head = head_of() if callable(head_of) else None
    if not isinstance(head, nn.Linear):
        raise SettingsError(f"init='text-bridge' needs an encoder with an ImageNet head ({CAPABILITY}()); "
                            f"{type(encoder).__name__} has none: use init='xavier'")
    if text_encoder is None:
        raise SettingsError("init='text-bridge' needs the text encoder of the space (text_encoder=)")
    if registry is None:
        from unibind.plugins import get_registry

        registry = get_registry()
    bridges = [s for s in registry.by_kind("adapter") if getattr(s, "requires", None) == CAPABILITY]
    if not bridges:
        raise NotRegisteredError(f"init='text-bridge': no registered adapter bridges encoders with "
                                 f"{CAPABILITY}(); install the plugin that provides one (e.g. the image plugin)")
    # several bridges: the choice follows priority and name, never load order
    spec = min(bridges, key=lambda s: (-s.priority, s.name, s.plugin))
    bridge = spec.build(encoder=encoder, text_encoder=text_encoder).cpu()  # its head may sit on the encoder's GPU
    form = bridge.linear_form()
    if form is None:
        raise SettingsError(f"{spec.label} states no linear form (Adapter.linear_form) to initialise from")
    weight, bias = (t.detach().float() for t in form)
    if weight.shape[1] != head.in_features or bias.shape != weight.shape[:1]:
        raise SettingsError(f"{spec.label}: linear form is {tuple(weight.shape)} + {tuple(bias.shape)}, "
                            f"not [d, {head.in_features}] + [d]")
    return weight, bias
