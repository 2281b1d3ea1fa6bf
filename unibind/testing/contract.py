"""The contract every plugin's own tests run: subclass :class:`PluginContract`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from unibind.plugins import PluginManager
from unibind.specs import Spec
from unibind.testing.checks import (
    bad_file_variants,
    check_batch_matches_singles,
    check_encoder_output,
    check_loader_rejects,
    check_settings_roundtrip,
    heavy_modules_after_registration,
)


class PluginContract:
    """Base class of a plugin's contract tests.

    Set ``plugin`` to the entry-point name. Override :meth:`sample_file` to
    write one valid file per modality the plugin registers, and
    :meth:`encoder_settings` for encoders that need settings (e.g. a path to a
    tiny local model). Encoders listed in ``skip_build`` are not built (say why
    in a comment; e.g. they need a GPU). ``skip_bad_files`` names kinds of
    ``BAD_FILE_KINDS`` your loaders rightly accept: a text format whose files cut
    on a line boundary are valid shorter files sets ``("truncated",)``.
    """

    plugin: ClassVar[str] = ""
    skip_build: ClassVar[tuple[str, ...]] = ()
    skip_bad_files: ClassVar[tuple[str, ...]] = ()
    batch_size: ClassVar[int] = 2

    # -- hooks for the plugin author ------------------------------------------------
    def sample_file(self, modality: str, tmp_path: Path) -> Path:
        raise NotImplementedError(f"write a valid {modality} file and return its path")

    def other_sample_file(self, modality: str, tmp_path: Path) -> Path | None:
        """A second valid file, different from :meth:`sample_file`'s, so batches mix distinct samples.

        Return None only where no second sample can be made: the batch check then sees copies of
        one sample and cannot notice rows mixed up between samples.
        """
        return None

    def encoder_settings(self, name: str, tmp_path: Path) -> dict[str, Any] | None:
        return None

    def adapter_context(self, spec: Spec, tmp_path: Path) -> dict[str, Any]:
        return {"in_dim": 8, "out_dim": 4}

    def source_settings(self, name: str, tmp_path: Path) -> dict[str, Any] | None:
        """Settings a description source needs in tests (e.g. a tiny local model, a loopback URL)."""
        return None

    # -- fixtures ----------------------------------------------------------------------------
    @pytest.fixture(scope="class")
    @classmethod
    def manager(cls) -> PluginManager:
        assert cls.plugin, "set `plugin` to your entry-point name"
        return PluginManager(strict=True, enabled={cls.plugin}).load()

    @pytest.fixture(scope="class")
    @classmethod
    def specs(cls, manager: PluginManager) -> list[Spec]:
        found = manager.registry.by_plugin(cls.plugin)
        assert found, f"plugin {cls.plugin!r} registered nothing"
        return found

    def _of_kind(self, specs: list[Spec], kind: str) -> list[Spec]:
        return [s for s in specs if s.kind == kind]

    # -- the checks ---------------------------------------------------------------------------
    def test_loads_through_entry_point(self, manager: PluginManager) -> None:
        info = manager.plugins[self.plugin]
        assert info.status == "ok", info.error
        assert info.distribution and info.version, "entry point has no distribution metadata"

    def test_registration_imports_nothing_heavy(self) -> None:
        assert heavy_modules_after_registration(self.plugin) == []

    def test_settings_round_trip(self, specs: list[Spec]) -> None:
        for spec in specs:
            check_settings_roundtrip(spec)

    def test_every_factory_builds(self, specs: list[Spec], tmp_path: Path) -> None:
        for spec in specs:
            if spec.kind == "encoder":
                continue  # built, and run, in test_encoders_embed_a_batch
            if spec.kind == "adapter":
                built = spec.build(**self.adapter_context(spec, tmp_path))
            elif spec.kind == "description_source":
                built = spec.build(self.source_settings(spec.name, tmp_path))
            else:
                built = spec.build()
            expected = _built_type(spec.kind, spec.produces if spec.kind == "description_source" else ())
            assert built is not None and isinstance(built, expected), \
                f"{spec.qualified_name} built a {type(built).__name__}, not a {expected.__name__}"

    def test_loaders_reject_bad_files(self, specs: list[Spec], tmp_path: Path) -> None:
        for spec in self._of_kind(specs, "modality"):
            good = self.sample_file(spec.name, tmp_path)
            modality = spec.build()
            modality.load(good)  # the good file itself must load
            check_loader_rejects(modality, bad_file_variants(good, tmp_path / f"bad-{spec.name}",
                                                           skip=self.skip_bad_files))

    def test_encoders_embed_a_batch(self, manager: PluginManager, specs: list[Spec],
                                    tmp_path: Path) -> None:
        for spec in self._of_kind(specs, "encoder"):
            if spec.name in self.skip_build:
                continue
            modality = manager.registry.get("modality", spec.modality).build()
            sample = modality.load(self.sample_file(spec.modality, tmp_path))
            (tmp_path / "second").mkdir(exist_ok=True)
            other = self.other_sample_file(spec.modality, tmp_path / "second")
            samples = [sample, modality.load(other)] if other is not None else [sample]
            batch = [samples[i % len(samples)] for i in range(max(self.batch_size, 2 * len(samples)))]
            encoder = spec.build(self.encoder_settings(spec.name, tmp_path))
            assert spec.dim is None or encoder.dim == spec.dim, f"{spec.name}: dim differs from spec"
            check_encoder_output(encoder, batch)
            check_batch_matches_singles(encoder, batch)
            assert not any(p.requires_grad for p in encoder.parameters()) or not spec.frozen, \
                f"{spec.name} is declared frozen but has trainable parameters"

    def test_description_sources_follow_the_interface(self, specs: list[Spec], tmp_path: Path) -> None:
        from unibind.knowledge.records import SampleRef
        from unibind.knowledge.sources import check_captioner, check_description_source

        for spec in self._of_kind(specs, "description_source"):
            if spec.name in self.skip_build:
                continue
            source = spec.build(self.source_settings(spec.name, tmp_path))
            if "class_descriptions" in spec.produces:
                check_description_source(source)
            if "sample_captions" in spec.produces:
                samples = [SampleRef.from_path(self.sample_file(m, tmp_path), m) for m in spec.modalities]
                check_captioner(source, samples)


def _built_type(kind: str, produces: tuple[str, ...] = ()) -> type:
    """What a factory of ``kind`` must return (runtime-checkable protocols where there is no base class)."""
    if kind == "modality":
        from unibind.modality import Modality

        return Modality
    if kind == "adapter":
        from torch import nn

        return nn.Module
    if kind == "description_source":
        from unibind.knowledge.sources import Captioner, DescriptionSource

        return DescriptionSource if "class_descriptions" in produces else Captioner
    if kind == "calibrator":
        from unibind.calibration.base import Calibrator

        return Calibrator
    if kind == "validator":
        from unibind.validation.base import Validator

        return Validator
    return object
