"""The space picks components from the registry: defaults, capabilities, explicit names."""

from __future__ import annotations

import sys
import types

import pytest
import torch

from unibind.encoders.base import Encoder
from unibind.errors import NotRegisteredError
from unibind.modality import Modality
from unibind.space import Space, entropy
from unibind.specs import AdapterSpec, EncoderSpec, ModalitySpec


class ToyModality(Modality):
    name = "toy"

    def read(self, path):
        return [float(v) for v in path.read_text().split()]


class ToyEncoder(Encoder):
    modality, dim = "toy", 3

    def preprocess(self, sample):
        if len(sample) != 3:
            raise ValueError(f"expected 3 numbers, got {len(sample)}")
        return torch.tensor(sample)

    def forward(self, batch):
        return batch


class ToyEncoderWithHead(ToyEncoder):
    def imagenet_head(self):
        return torch.nn.Linear(3, 3)


class ToyAdapter(torch.nn.Module):
    def __init__(self, *, in_dim, out_dim, **_):
        super().__init__()
        self.linear = torch.nn.Linear(in_dim, out_dim)

    def forward(self, x):
        return self.linear(x)


@pytest.fixture
def toy_registry(make_plugin, manager_with, monkeypatch):
    def build(with_head: bool):
        module = types.ModuleType("toy_components")
        module.ToyModality, module.ToyAdapter = ToyModality, ToyAdapter
        module.ToyEncoder = ToyEncoderWithHead if with_head else ToyEncoder
        monkeypatch.setitem(sys.modules, "toy_components", module)
        plugin = make_plugin(
            "toy",
            unibind_modalities=lambda register: register(
                ModalitySpec(name="toy", factory="toy_components:ToyModality", suffixes=(".toy",))),
            unibind_encoders=lambda register: register(
                EncoderSpec(name="toy-enc", modality="toy", factory="toy_components:ToyEncoder", default=True)),
            unibind_adapters=lambda register: register(
                AdapterSpec(name="needs-head", factory="toy_components:ToyAdapter", requires="imagenet_head",
                            default=True, trainable=False)),
        )
        return manager_with({"toy": plugin}).registry
    return build


def test_a_default_adapter_is_chosen_only_for_encoders_that_have_what_it_needs(toy_registry, tmp_path):
    good, bad = tmp_path / "a.toy", tmp_path / "b.toy"
    good.write_text("1 2 3")
    bad.write_text("1 2")
    space = Space(registry=toy_registry(with_head=True))
    assert space.pipeline("toy").adapter_name == "needs-head"
    result = space.embed_files([good, bad])
    assert result.vectors.shape == (1, 384) and result.sources == [str(good)]
    assert [f.source for f in result.failures] == [str(bad)]
    assert "expected 3 numbers" in result.failures[0].reason
    with pytest.raises(NotRegisteredError, match="no default adapter fits the toy encoder"):
        Space(registry=toy_registry(with_head=False)).pipeline("toy")
    named = Space(registry=toy_registry(with_head=False), adapters={"toy": "linear"})
    assert named.pipeline("toy").adapter_name == "linear"


def test_workers_give_the_same_embeddings_as_the_main_process(toy_registry, tmp_path):
    paths = []
    for i in range(7):
        paths.append(tmp_path / f"{i}.toy")
        paths[-1].write_text(f"{i} {i + 1} {i * 2}")
    (tmp_path / "broken.toy").write_text("nonsense")
    paths.insert(3, tmp_path / "broken.toy")
    space = Space(registry=toy_registry(with_head=True))
    here = space.embed_files(paths, batch_size=3)
    there = space.embed_files(paths, batch_size=3, workers=2)
    assert here.sources == there.sources and len(here.sources) == 7
    assert torch.allclose(here.vectors, there.vectors)
    assert [f.source for f in there.failures] == [str(tmp_path / "broken.toy")]


def test_entropy_of_uniform_and_certain_distributions():
    probs = torch.tensor([[0.25] * 4, [1.0, 0.0, 0.0, 0.0]])
    assert torch.allclose(entropy(probs), torch.tensor([torch.log(torch.tensor(4.0)), 0.0]), atol=1e-6)


def test_throughput_benchmark_skips_bad_files_and_reports_a_ratio(toy_registry, tmp_path):
    from unibind.bench import embed_throughput

    paths = []
    for i in range(6):
        paths.append(tmp_path / f"{i}.toy")
        paths[-1].write_text(f"{i} 1 2")
    (tmp_path / "bad.toy").write_text("1")
    figures = embed_throughput(Space(registry=toy_registry(with_head=True)), "toy",
                               paths + [tmp_path / "bad.toy"], workers=0, batch_size=4)
    assert figures["files"] == 6 and figures["failures"] == 1
    assert figures["ratio"] > 0 and figures["forward_files_per_s"] > 0
