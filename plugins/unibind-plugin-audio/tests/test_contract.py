"""The shared UniBind plugin contract, run against the audio plugin."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from unibind.specs import Spec
from unibind.testing import PluginContract
from unibind_plugin_audio.aisfx_encoder import aisfx_available


class TestContract(PluginContract):
    plugin = "audio"
    # aisfx is an optional package (its pins keep it out of the dependencies): when it is not
    # installed the encoder cannot be built; test_aisfx.py checks that it says so, and checks the
    # loading code on a simulated package.
    skip_build: ClassVar[tuple[str, ...]] = () if aisfx_available() else ("aisfx",)

    @pytest.fixture(autouse=True)
    def _context(self, spectrogram_encoder, fake_text_encoder, tiny_clap_dir, tiny_ast_dir) -> None:
        self.spectrogram_encoder = spectrogram_encoder
        self.text_encoder = fake_text_encoder
        self.tiny = {"clap": tiny_clap_dir, "ast": tiny_ast_dir}

    def sample_file(self, modality: str, tmp_path: Path) -> Path:
        """A real Tux Paint sound effect (the cow's moo, OGG/Vorbis) converted to a 16-bit WAV."""
        import soundfile as sf

        from unibind.datasets import tuxpaint_stamps

        assert modality == "audio"
        cow = next(s.sound for s in tuxpaint_stamps(with_sound=True) if s.name == "cow")
        data, rate = sf.read(str(cow), dtype="float32")
        path = tmp_path / "cow.wav"
        sf.write(str(path), data, rate, subtype="PCM_16")
        return path

    def other_sample_file(self, modality: str, tmp_path: Path) -> Path:
        """Another real Tux Paint sound effect, converted the same way."""
        import soundfile as sf

        from unibind.datasets import tuxpaint_stamps

        other = next(s.sound for s in tuxpaint_stamps(with_sound=True) if s.name != "cow")
        data, rate = sf.read(str(other), dtype="float32")
        path = tmp_path / "other.wav"
        sf.write(str(path), data, rate, subtype="PCM_16")
        return path

    def encoder_settings(self, name: str, tmp_path: Path) -> dict[str, Any] | None:
        if name in self.tiny:
            return {"model": str(self.tiny[name])}
        return None

    def adapter_context(self, spec: Spec, tmp_path: Path) -> dict[str, Any]:
        # the bridge needs an encoder with an ImageNet head (the default) and a text encoder (fake: quick)
        text = self.text_encoder
        return {"encoder": self.spectrogram_encoder, "text_encoder": text,
                "in_dim": self.spectrogram_encoder.dim, "out_dim": text.dim}
