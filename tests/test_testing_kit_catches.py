"""The contract kit fails a plugin for each mistake it promises to catch (a neutered kit fails here).

Each check of :mod:`unibind.testing` gets a component with exactly one defect and must name it;
the honest twin of each must pass, so a check that always fails is caught too.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from pydantic import BaseModel, field_validator, model_validator
from torch import nn

from unibind.encoders.base import Encoder
from unibind.errors import InputError
from unibind.modality import Modality
from unibind.testing import (
    PluginContract,
    check_batch_matches_singles,
    check_encoder_output,
    check_loader_rejects,
    check_settings_roundtrip,
)


# -- loaders ------------------------------------------------------------------------------------
class _VagueErrors(Modality):
    """Refuses every file, but with an error that does not say which file."""

    name = "vague"

    def load(self, path):
        raise InputError("somewhere", "bad input")


class _NamesTheFile(Modality):
    name = "precise"

    def read(self, path: Path):
        raise ValueError("unreadable")          # Modality.load turns it into an InputError naming the file


def _bad_files(tmp_path):
    files = {}
    for kind in ("empty", "garbage"):
        files[kind] = tmp_path / f"{kind}.dat"
        files[kind].write_bytes(b"" if kind == "empty" else b"\x00\x01")
    return files


def test_an_error_that_does_not_name_the_file_fails_the_kit(tmp_path):
    files = _bad_files(tmp_path)
    with pytest.raises(AssertionError, match="empty: error does not name the file"):
        check_loader_rejects(_VagueErrors(), files)
    check_loader_rejects(_NamesTheFile(), files)           # the honest twin passes


def test_an_error_of_the_wrong_type_is_not_swallowed(tmp_path):
    class Crashes(Modality):
        name = "crashes"

        def load(self, path):
            raise RuntimeError("a traceback, not an InputError")

    with pytest.raises(RuntimeError):
        check_loader_rejects(Crashes(), _bad_files(tmp_path))


# -- settings -----------------------------------------------------------------------------------
class _Drifting(BaseModel):
    """Each validation adds one: the defaults do not survive a JSON round trip."""

    n: int = 0

    @field_validator("n")
    @classmethod
    def _bump(cls, value: int) -> int:
        return value + 1


class _Stable(BaseModel):
    n: int = 3
    name: str = "x"
    ratio: float = 0.25


class _NeedsAPath(BaseModel):
    path: Path


class _Unbuildable(BaseModel):
    """No fields, and construction fails: nothing the kit could round-trip."""

    @model_validator(mode="before")
    @classmethod
    def _refuse(cls, data):
        raise ValueError("never")


def _spec(model):
    return SimpleNamespace(qualified_name="fake:spec", settings_model=lambda: model)


def test_settings_that_change_on_a_json_round_trip_fail_the_kit():
    with pytest.raises(AssertionError, match="fake:spec: settings changed on a JSON round trip"):
        check_settings_roundtrip(_spec(_Drifting))
    check_settings_roundtrip(_spec(_Stable))


def test_settings_without_defaults_need_fields_and_no_settings_is_fine():
    check_settings_roundtrip(_spec(_NeedsAPath))         # required fields: the schema is checked instead
    with pytest.raises(AssertionError, match="fake:spec: settings model has no fields"):
        check_settings_roundtrip(_spec(_Unbuildable))
    check_settings_roundtrip(_spec(None))


def test_the_round_trip_check_runs_on_a_real_spec_and_would_see_a_change(monkeypatch):
    from unibind.encoders.text import MiniLMSettings
    from unibind.specs import EncoderSpec

    spec = EncoderSpec(name="m", modality="text", factory="unibind.encoders.text:build_minilm",
                       settings="unibind.encoders.text:MiniLMSettings")
    assert spec.settings_model() is MiniLMSettings
    check_settings_roundtrip(spec)
    # the same spec, its settings made to drift: now the check must fail
    drifting = type("DriftingMiniLM", (MiniLMSettings, _Drifting), {})
    monkeypatch.setattr(spec.__class__, "settings_model", lambda self: drifting)
    with pytest.raises(AssertionError, match="changed on a JSON round trip"):
        check_settings_roundtrip(spec)


# -- encoders ----------------------------------------------------------------------------------
class _Honest(Encoder):
    """Embeds a number ``x`` as a fixed function of it, row by row."""

    dim = 3

    def preprocess(self, sample):
        return torch.tensor([float(sample)])

    def forward(self, batch):
        return torch.cat([batch, batch ** 2, torch.sin(batch)], dim=1)


class _MixesUpRows(_Honest):
    def forward(self, batch):
        return super().forward(batch).flip(0)           # rows in the wrong order


class _LeaksAcrossRows(_Honest):
    def forward(self, batch):
        out = super().forward(batch)
        return out - out.mean(0, keepdim=True) * 0.1      # each row depends on the others


class _ReturnsArray(_Honest):
    def encode(self, samples, batch_size=32):
        return super().encode(samples).numpy()


class _ReturnsInts(_Honest):
    def encode(self, samples, batch_size=32):
        return super().encode(samples).long()


class _DropsARow(_Honest):
    def encode(self, samples, batch_size=32):
        return super().encode(samples)[:-1]


def test_a_batch_whose_rows_are_mixed_up_or_leak_fails_the_kit():
    with pytest.raises(AssertionError, match="row 0 of a batch differs from sample 0 encoded alone"):
        check_batch_matches_singles(_MixesUpRows(), [1, 2, 3])
    with pytest.raises(AssertionError, match="row 0 of a batch"):
        check_batch_matches_singles(_LeaksAcrossRows(), [1, 2, 3])
    check_batch_matches_singles(_Honest(), [1, 2, 3])
    check_batch_matches_singles(_MixesUpRows(), [2, 2, 2])  # copies of one sample cannot show it


def test_encoder_outputs_of_the_wrong_kind_fail_the_kit():
    with pytest.raises(AssertionError, match="returned ndarray, not a tensor"):
        check_encoder_output(_ReturnsArray(), [1, 2])
    with pytest.raises(AssertionError, match="returned dtype torch.int64"):
        check_encoder_output(_ReturnsInts(), [1, 2])
    with pytest.raises(AssertionError, match=r"shape \(1, 3\) for 2"):
        check_encoder_output(_DropsARow(), [1, 2])
    with pytest.raises(AssertionError, match="dim 3 != declared 4"):
        check_encoder_output(_Honest(), [1, 2], dim=4)
    check_encoder_output(_Honest(), [1, 2])
    check_encoder_output(_Honest(), [1, 2], dim=3)


# -- the contract class on fake components -------------------------------------------------------
class _NumberFile(Modality):
    name = "number"

    def read(self, path: Path):
        return float(path.read_text())


def _fake_plugin(encoder_cls, built=None):
    """A manager and specs as the contract sees them: one modality, two encoders, one adapter."""
    modality = SimpleNamespace(kind="modality", name="number", qualified_name="fake:number",
                               build=lambda *a, **k: _NumberFile())
    encoders = [SimpleNamespace(kind="encoder", name=name, qualified_name=f"fake:{name}", modality="number",
                                dim=3, frozen=False, build=lambda *a, **k: encoder_cls()) for name in ("e1", "e2")]
    adapter = SimpleNamespace(kind="adapter", name="lin", qualified_name="fake:lin",
                              build=lambda in_dim, out_dim: built if built is not None else nn.Linear(in_dim, out_dim))

    def get(kind, name):
        assert (kind, name) == ("modality", "number"), (kind, name)
        return modality

    return SimpleNamespace(registry=SimpleNamespace(get=get)), [modality, *encoders, adapter]


class _Contract(PluginContract):
    plugin = "fake"

    def sample_file(self, modality, tmp_path):
        assert modality == "number", modality
        path = tmp_path / "one.num"
        path.write_text("1.5")
        return path

    def other_sample_file(self, modality, tmp_path):
        assert modality == "number", modality
        path = tmp_path / "two.num"
        path.write_text("-0.5")
        return path


def test_the_contract_embeds_distinct_samples_and_catches_a_mix_up(tmp_path):
    manager, specs = _fake_plugin(_Honest)
    _Contract().test_encoders_embed_a_batch(manager, specs, tmp_path)
    manager, specs = _fake_plugin(_MixesUpRows)
    with pytest.raises(AssertionError, match="differs from sample 0 encoded alone"):
        (tmp_path / "again").mkdir()
        _Contract().test_encoders_embed_a_batch(manager, specs, tmp_path / "again")


def test_the_contract_checks_what_a_factory_builds(tmp_path):
    manager, specs = _fake_plugin(_Honest)
    _Contract().test_every_factory_builds(specs, tmp_path)
    _, wrong = _fake_plugin(_Honest, built="not a module")
    with pytest.raises(AssertionError, match="fake:lin built a str, not a Module"):
        _Contract().test_every_factory_builds(wrong, tmp_path)


def test_the_contract_fails_a_loader_that_accepts_broken_files(tmp_path):
    class Lenient(_NumberFile):
        def read(self, path: Path):
            return 0.0

    manager, specs = _fake_plugin(_Honest)
    specs[0].build = lambda *a, **k: Lenient()
    with pytest.raises(AssertionError, match="was accepted by Lenient"):
        _Contract().test_loaders_reject_bad_files(specs, tmp_path)


def test_without_a_second_sample_the_batch_holds_copies_of_the_first(tmp_path):
    class OneSample(_Contract):
        def other_sample_file(self, modality, tmp_path):
            return None

    manager, specs = _fake_plugin(_Honest)
    OneSample().test_encoders_embed_a_batch(manager, specs, tmp_path)
    assert OneSample().other_sample_file is not None and PluginContract().other_sample_file("x", tmp_path) is None


def test_a_captioner_factory_must_build_a_captioner(tmp_path):
    class Captions:
        model, prompt = "fake", "describe"

        def caption(self, samples, *, n=1, seed=0):
            return []

    spec = SimpleNamespace(kind="description_source", name="cap", qualified_name="fake:cap",
                           produces=("sample_captions",), build=lambda *a, **k: Captions())
    _Contract().test_every_factory_builds([spec], tmp_path)
    spec.produces = ("class_descriptions",)                 # a source must be able to describe
    with pytest.raises(AssertionError, match="fake:cap built a Captions, not a DescriptionSource"):
        _Contract().test_every_factory_builds([spec], tmp_path)


def test_broken_copies_are_what_they_say(tmp_path):
    from unibind.testing import bad_file_variants

    good = tmp_path / "good.bin"
    data = bytes(range(256)) * 2
    good.write_bytes(data)
    variants = {k: p.read_bytes() for k, p in bad_file_variants(good, tmp_path / "bad").items()}
    assert variants["empty"] == b""
    assert variants["truncated"] == data[:len(data) // 3]
    assert variants["corrupted"] == bytes(b ^ 0x5A for b in data[:64]) + data[64:]
    assert variants["wrong_format"].startswith(b"this is plain text")
    assert all(p.suffix == ".bin" for p in (tmp_path / "bad").iterdir())


def test_rows_within_float_noise_of_their_single_encoding_pass():
    class Noisy(_Honest):
        def forward(self, batch):                          # batched kernels round differently: ~1e-5
            return super().forward(batch) + 1e-5 * (len(batch) > 1)

    near_zero = [0.0, 1e-6, 2e-6]                             # where the absolute tolerance decides
    check_batch_matches_singles(Noisy(), near_zero)
    with pytest.raises(AssertionError):
        check_batch_matches_singles(Noisy(), near_zero, atol=1e-7)


def test_the_contract_runs_description_sources_and_captioners_through_their_checks(tmp_path):
    from unibind.knowledge.records import DescriptionDraft

    class Source:
        model, prompt = "fake", "describe {}"

        def __init__(self, fixed=True):
            self.fixed, self.calls = fixed, 0

        def describe(self, cls, n, *, modality=None, seed=0, start=0):
            self.calls += 1
            texts = [f"A {cls.name} number {i}." for i in range(n)] if self.fixed else [f"call {self.calls}."]
            return iter([DescriptionDraft(text=t) for t in texts][start:])

        def caption(self, samples, *, n=1, seed=0):
            seen.append([(Path(s.path).name, s.modality) for s in samples])
            return [(i, DescriptionDraft(text=f"a picture {i}.")) for i in range(len(samples))]

    seen: list = []
    spec = SimpleNamespace(kind="description_source", name="src", qualified_name="fake:src",
                           produces=("class_descriptions", "sample_captions"), modalities=("number",),
                           build=lambda *a, **k: Source())
    _Contract().test_description_sources_follow_the_interface([spec], tmp_path)
    assert seen == [[("one.num", "number")]] * 2              # the plugin's own sample file, twice
    spec.build = lambda *a, **k: Source(fixed=False)
    with pytest.raises(AssertionError, match="not deterministic"):
        _Contract().test_description_sources_follow_the_interface([spec], tmp_path)
