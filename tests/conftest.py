"""Shared fixtures: plugin managers built from plugins that tests register themselves."""

from __future__ import annotations

import types

import pytest

from unibind.plugins import PluginManager, reset_plugin_manager


@pytest.fixture(autouse=True)
def _fresh_plugin_manager():
    yield
    reset_plugin_manager()


@pytest.fixture
def make_plugin():
    """Build a plugin module on the fly: ``make_plugin("name", unibind_encoders=fn, ...)``."""

    def make(name: str, **hooks):
        module = types.ModuleType(name)
        for hook_name, function in hooks.items():
            from unibind import hookimpl

            setattr(module, hook_name, hookimpl(function))
        return module

    return make


@pytest.fixture
def manager_with():
    """A manager with only the core built-ins plus the given ``{name: plugin}`` (no entry points)."""

    def make(plugins: dict | None = None, strict: bool = False) -> PluginManager:
        manager = PluginManager(strict=strict, enabled=set())
        from unibind import builtins

        manager.add_plugin(builtins, "unibind", builtin=True)
        for name, plugin in (plugins or {}).items():
            manager.add_plugin(plugin, name, distribution=f"unibind-plugin-{name}", version="9.9")
        manager.collect()
        return manager

    return make


@pytest.fixture
def one_torch_thread():
    """One torch thread for tiny models: on a shared 2-core machine a second thread only spins."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def fake_text_registry(make_plugin, manager_with):
    """``install(*source_specs)``: built-ins + the hashing text encoder as default + those sources.

    The hashing encoder (``unibind.knowledge.testing``) needs no model: texts that share words
    are similar, so tests can reason about nearest centres.
    """
    from unibind.knowledge.testing import hashing_encoder_spec

    def install(*sources):
        plugin = make_plugin("fakes", unibind_encoders=lambda register: register(hashing_encoder_spec()),
                             unibind_description_sources=lambda register: [register(s) for s in sources])
        manager = manager_with({"fakes": plugin})
        reset_plugin_manager(manager)
        return manager.registry

    return install
