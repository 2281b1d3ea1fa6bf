"""The plugin contract: every hook a UniBind plugin can implement, in one place.

Each registration hook receives a ``register`` callable and calls it with spec
objects from :mod:`unibind.specs` (a spec the hook returns instead is not
registered; ``unibind list-plugins`` warns). Specs name their heavy parts lazily as
``"module:attribute"`` strings, so registering a plugin never imports torch.

Every component is reachable as ``plugin:name`` (the entry-point name); a bare name
another plugin also registers is a conflict the user settles (:mod:`unibind.plugins`).
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("unibind")
hookimpl = pluggy.HookimplMarker("unibind")


@hookspec
def unibind_modalities(register):
    """Register data modalities: ``register(ModalitySpec(...))``.

    A modality names the file suffixes it reads and the loader that turns one
    file into a sample.
    """


@hookspec
def unibind_encoders(register):
    """Register encoders: ``register(EncoderSpec(...))``.

    An encoder maps samples of one modality to vectors of a fixed dimension.
    """


@hookspec
def unibind_adapters(register):
    """Register adapters: ``register(AdapterSpec(...))``.

    An adapter maps an encoder's features into the language-anchored space.
    """


@hookspec
def unibind_description_sources(register):
    """Register description sources: ``register(DescriptionSourceSpec(...))``.

    Sources write class descriptions (LLMs, WordNet, templates) or sample
    captions (captioners) for the knowledge base.
    """


@hookspec
def unibind_calibrators(register):
    """Register calibrators: ``register(CalibratorSpec(...))``.

    A calibrator turns class scores into probabilities that mean what they say.
    """


@hookspec
def unibind_validators(register):
    """Register fallback validators: ``register(ValidatorSpec(...))``.

    A validator re-checks a low-confidence prediction.
    """


@hookspec
def unibind_commands(cli):
    """Add sub-commands to the ``unibind`` command line (a ``click.Group``)."""
