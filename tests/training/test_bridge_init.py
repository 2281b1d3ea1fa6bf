"""init='text-bridge' starts from the bridge's stated linear form, whatever its buffers are called."""

from __future__ import annotations

import sys
import types

import pytest
import torch
from torch import nn

from unibind.adapters.base import Adapter
from unibind.errors import SettingsError
from unibind.specs import AdapterSpec
from unibind.training.bridge_init import text_bridge_weights


class _Encoder:
    dim = 6

    def __init__(self):
        self.head = nn.Linear(6, 10)

    def imagenet_head(self):
        return self.head


class _StatedBridge(Adapter):
    """Keeps its texts under another name: only ``linear_form`` tells the core the map."""

    def __init__(self, *, encoder, text_encoder, **_):
        super().__init__()
        self.register_buffer("texts_by_another_name", torch.randn(10, 4))
        self.encoder = encoder

    def linear_form(self):
        return torch.full((4, 6), 0.5), torch.arange(4.0)


class _SilentBridge(Adapter):
    def __init__(self, **_):
        super().__init__()


@pytest.fixture
def bridge_registry(make_plugin, manager_with, monkeypatch):
    module = types.ModuleType("fake_bridges")
    module.StatedBridge, module.SilentBridge = _StatedBridge, _SilentBridge
    monkeypatch.setitem(sys.modules, "fake_bridges", module)

    def install(cls_name):
        plugin = make_plugin("b", unibind_adapters=lambda register: register(AdapterSpec(
            name="bridge", factory=f"fake_bridges:{cls_name}", requires="imagenet_head")))
        return manager_with({"b": plugin}).registry

    return install


def test_the_start_is_the_linear_form_the_bridge_states(bridge_registry):
    weight, bias = text_bridge_weights(_Encoder(), object(), registry=bridge_registry("StatedBridge"))
    assert torch.equal(weight, torch.full((4, 6), 0.5)) and torch.equal(bias, torch.arange(4.0))


def test_a_bridge_without_a_linear_form_is_a_clear_error(bridge_registry):
    with pytest.raises(SettingsError, match="adapter 'b:bridge' states no linear form"):
        text_bridge_weights(_Encoder(), object(), registry=bridge_registry("SilentBridge"))
