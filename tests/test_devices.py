"""One device setting: how it resolves, and that every component moves with it.

The machine running these tests has no GPU. Where a component must *run* on
the chosen device, the ``meta`` device stands in for one: a meta tensor meets
a CPU tensor with the same "not on the expected device" error a CUDA tensor
would, so a weight or batch left behind fails here as it would on a GPU.
Where only a decision is at stake (auto, pinned memory, non-blocking copies,
NCCL), torch's availability checks are monkeypatched.
"""

from __future__ import annotations

import sys
import types
from typing import ClassVar, NamedTuple

import pytest
import torch

from unibind import devices
from unibind.encoders.base import Encoder
from unibind.modality import Modality
from unibind.specs import EncoderSpec, ModalitySpec

META = torch.device("meta")


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.delenv(devices.DEVICE_ENV, raising=False)
    monkeypatch.delenv(devices.PRECISION_ENV, raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)


@pytest.fixture
def two_gpus(monkeypatch, no_gpu):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


# -- resolution ---------------------------------------------------------------------------------
def test_auto_is_cuda_then_mps_then_cpu(monkeypatch, no_gpu):
    assert devices.resolve("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert devices.resolve("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert devices.resolve("auto").type == "cuda"
    assert devices.resolve() == devices.resolve("auto")  # auto is the default


def test_argument_beats_the_command_choice_which_beats_the_environment(monkeypatch, no_gpu):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setenv(devices.DEVICE_ENV, "mps")
    assert devices.resolve() == torch.device("mps")
    with devices.chosen("meta"):
        assert devices.resolve() == META
        assert devices.resolve("cpu") == torch.device("cpu")
    assert devices.resolve() == torch.device("mps")  # the command's choice ends with it


def test_a_device_this_machine_lacks_is_refused_saying_why(two_gpus, monkeypatch):
    with pytest.raises(devices.DeviceError, match=r"cuda:2 does not exist: this machine has 2 CUDA"):
        devices.resolve("cuda:2")
    assert devices.resolve("CUDA:1") == torch.device("cuda", 1)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(devices.DeviceError, match="cuda is not available here"):
        devices.resolve("cuda")
    with pytest.raises(devices.DeviceError, match="mps is not available here"):
        devices.resolve("mps")
    with pytest.raises(devices.DeviceError, match=r"unknown device 'gpu': use one of auto, cpu, cuda, cuda:N, mps"):
        devices.resolve("gpu")


def test_plain_cuda_under_torchrun_is_the_local_ranks_gpu(two_gpus, monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert devices.resolve("cuda") == torch.device("cuda", 1)
    assert devices.resolve("auto") == torch.device("cuda", 1)
    assert devices.resolve("cuda:0") == torch.device("cuda", 0)  # one process on this machine: an explicit index stays


def test_an_explicit_gpu_under_a_multi_rank_torchrun_is_refused(two_gpus, monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    with pytest.raises(devices.DeviceError, match=r"cuda:0 under torchrun with 2 processes .* use cuda"):
        devices.resolve("cuda:0")
    assert devices.resolve("cuda") == torch.device("cuda", 1)


def test_precision_is_checked_against_the_device(no_gpu, monkeypatch):
    cpu = torch.device("cpu")
    assert devices.resolve_precision(None, cpu) == "fp32"
    assert devices.resolve_precision("bf16", cpu) == "bf16"
    with pytest.raises(devices.DeviceError, match="fp16 autocast is not supported on cpu"):
        devices.resolve_precision("fp16", cpu)
    with pytest.raises(devices.DeviceError, match="unknown precision 'half'"):
        devices.resolve_precision("half", cpu)
    monkeypatch.setenv(devices.PRECISION_ENV, "bf16")
    assert devices.resolve_precision(None, cpu) == "bf16"
    assert devices.autocast(cpu, "fp32").__class__.__name__ == "nullcontext"


# -- batches: pinned memory and non-blocking copies on CUDA only ----------------------------------
class Recorder:
    """Stands for a tensor-like batch part: records how it was asked to move."""

    def __init__(self):
        self.calls = []

    def to(self, device, non_blocking=False):
        self.calls.append((device, non_blocking))
        return self


class Pair(NamedTuple):
    frames: object
    lengths: tuple


def test_batches_move_non_blocking_only_to_cuda():
    for device, expected in ((torch.device("cuda", 0), True), (torch.device("cpu"), False)):
        part = Recorder()
        batch = {"pixels": [part, "a caption"], "pair": Pair(part, (1, 2))}
        moved = devices.to_device(batch, device)
        assert part.calls == [(device, expected)] * 2
        assert isinstance(moved["pair"], Pair) and moved["pair"].lengths == (1, 2)
        assert moved["pixels"][1] == "a caption"


def test_tensors_inside_any_batch_shape_reach_the_device():
    batch = {"x": torch.ones(2, 3), "nested": [torch.zeros(1), ("keep", torch.ones(1))], "n": 3}
    moved = devices.to_device(batch, META)
    assert moved["x"].device == META and moved["nested"][0].device == META
    assert moved["nested"][1][0] == "keep" and moved["nested"][1][1].device == META and moved["n"] == 3


def test_the_dataloader_pins_memory_only_for_cuda(monkeypatch, tmp_path):
    from unibind import batching

    seen = []

    def loader(*args, **kwargs):
        seen.append(kwargs["pin_memory"])
        return iter(())

    monkeypatch.setattr(batching, "DataLoader", loader)
    for device in (torch.device("cuda", 0), torch.device("cpu"), torch.device("mps"), None):
        list(batching.prepared_batches([tmp_path / "a"], object(), object(), device=device))
    assert seen == [True, False, False, False]


def test_a_prepared_batch_pins_its_tensors_and_keeps_the_rest(monkeypatch):
    from unibind.batching import PreparedBatch
    from unibind.results import Failure

    pinned = []
    monkeypatch.setattr(torch.Tensor, "pin_memory", lambda self: pinned.append(self) or self.clone())
    batch = PreparedBatch({"a": torch.ones(2), "b": [torch.zeros(1)]}, ["x", "y"], [Failure(source="z", reason="r")])
    out = batch.pin_memory()
    assert len(pinned) == 2 and out.sources == ["x", "y"] and out.failures == batch.failures
    assert torch.equal(out.batch["a"], torch.ones(2)) and out.batch["a"] is not batch.batch["a"]


# -- the space: every part on the setting's device -------------------------------------------------
class ToyModality(Modality):
    name = "toy"

    def read(self, path):
        return [float(v) for v in path.read_text().split()]


class ToyEncoder(Encoder):
    """A real layer, so a batch or weight on the wrong device fails as on a GPU; records what it saw."""

    modality, dim = "toy", 3
    seen: ClassVar[list] = []

    def __init__(self, settings=None):
        super().__init__()
        self.layer = torch.nn.Linear(3, 3)
        with torch.no_grad():  # the same weights in every space built here
            self.layer.weight.copy_(torch.linspace(-1, 1, 9).reshape(3, 3))
            self.layer.bias.fill_(0.1)
        self.source = __file__  # identified by a file's content, so identity works on any device

    def preprocess(self, sample):
        return torch.tensor(sample, dtype=torch.float32)

    def forward(self, batch):
        ToyEncoder.seen.append((batch.device, torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")))
        return self.layer(batch)


@pytest.fixture
def toy_registry(make_plugin, manager_with, monkeypatch):
    from unibind.knowledge.testing import hashing_encoder_spec

    module = types.ModuleType("device_toy")
    module.ToyModality, module.ToyEncoder = ToyModality, ToyEncoder
    monkeypatch.setitem(sys.modules, "device_toy", module)
    plugin = make_plugin(
        "devtoy",
        unibind_modalities=lambda register: register(
            ModalitySpec(name="toy", factory="device_toy:ToyModality", suffixes=(".toy",))),
        unibind_encoders=lambda register: [register(hashing_encoder_spec()), register(  # no text model to load
            EncoderSpec(name="toy-enc", modality="toy", factory="device_toy:ToyEncoder", default=True))],
    )
    ToyEncoder.seen = []
    return manager_with({"devtoy": plugin}).registry


def _toy_files(tmp_path, n=3):
    paths = []
    for i in range(n):
        paths.append(tmp_path / f"{i}.toy")
        paths[-1].write_text(f"{i} 1 2")
    return paths


def _all_on(module, device) -> bool:
    tensors = [*module.parameters(), *module.buffers()]
    return all(t.device == device for t in tensors)


def test_files_embed_on_the_spaces_device(toy_registry, tmp_path):
    from unibind.space import Space

    space = Space(registry=toy_registry, adapters={"toy": "linear"}, device="meta")
    result = space.embed_files(_toy_files(tmp_path), batch_size=2)
    pipe = space.pipeline("toy")
    assert [d for d, *_ in ToyEncoder.seen] == [META, META]  # each batch went to the device
    assert result.vectors.device == META and result.vectors.shape == (3, space.dim)
    assert _all_on(pipe.encoder, META) and _all_on(pipe.adapter, META)


def test_loaded_samples_and_cached_features_embed_on_the_device(toy_registry):
    from unibind.features.extract import FrozenEncoder
    from unibind.space import Space

    space = Space(registry=toy_registry, adapters={"toy": "linear"}, device="meta")
    assert space.embed_samples("toy", [[1.0, 2.0, 3.0]]).device == META
    assert space.embed_features("toy", torch.ones(4, 3)).shape == (4, space.dim)  # CPU rows from a cache
    frozen = FrozenEncoder.from_space(space, "toy")
    assert frozen.device == META and frozen.features(torch.ones(2, 3)).device == META
    built = FrozenEncoder.from_registry("toy", registry=toy_registry, device="meta")
    assert built.device == META and _all_on(built.encoder, META)


def test_the_device_comes_from_the_setting_when_not_given(toy_registry, monkeypatch):
    from unibind.space import Space

    monkeypatch.setenv(devices.DEVICE_ENV, "meta")
    assert Space(registry=toy_registry).device == META
    with devices.chosen("cpu"):
        assert Space(registry=toy_registry).device == torch.device("cpu")


def test_bf16_runs_the_encoder_under_autocast_and_the_adapter_in_fp32(toy_registry, tmp_path):
    from unibind.space import Space

    paths = _toy_files(tmp_path)
    plain = Space(registry=toy_registry, adapters={"toy": "linear"}, device="cpu").embed_files(paths)
    assert [(on, dtype) for _, on, dtype in ToyEncoder.seen][-1][0] is False
    ToyEncoder.seen = []
    mixed = Space(registry=toy_registry, adapters={"toy": "linear"}, device="cpu", precision="bf16").embed_files(paths)
    assert [(on, dtype) for _, on, dtype in ToyEncoder.seen] == [(True, torch.bfloat16)]
    assert mixed.vectors.dtype == torch.float32
    assert torch.allclose(mixed.vectors, plain.vectors, atol=3e-2)
    assert not torch.equal(mixed.vectors, plain.vectors)  # bf16 did round something


def test_fp16_is_refused_on_cpu_by_the_space(toy_registry):
    from unibind.space import Space

    with pytest.raises(devices.DeviceError, match="fp16"):
        Space(registry=toy_registry, device="cpu", precision="fp16")


def test_the_text_encoder_runs_under_bf16_autocast_close_to_fp32():
    """The shipped MiniLM on the CPU: bf16 matmuls inside (dtype seen by a hook), float32 out, close to fp32."""
    from unibind.space import Space

    texts = ["a photo of a dog", "the sound of rain", "a red car on a road"]
    space = Space(device="cpu", precision="bf16")  # one model load: the precision is read per call
    dtypes = []
    layer = next(m for m in space.pipeline("text").encoder.modules() if isinstance(m, torch.nn.Linear))
    layer.register_forward_hook(lambda module, args, out: dtypes.append(out.dtype))
    b = space.embed_text(texts)
    assert set(dtypes) == {torch.bfloat16} and b.dtype == torch.float32
    space.precision = "fp32"
    a = space.embed_text(texts)
    assert dtypes[-1] == torch.float32
    cosines = (a * b).sum(-1)
    assert bool((cosines > 0.99).all()) and not torch.equal(a, b), cosines


def test_the_feature_cache_key_ignores_the_device_but_not_the_precision(toy_registry):
    from unibind.features.extract import FrozenEncoder
    from unibind.identity import identity_hash, space_text_identity
    from unibind.space import Space

    linear = {"toy": "linear"}
    on_cpu = Space(registry=toy_registry, adapters=linear, device="cpu")
    on_meta = Space(registry=toy_registry, adapters=linear, device="meta")
    in_bf16 = Space(registry=toy_registry, adapters=linear, device="cpu", precision="bf16")
    cpu, meta, bf16 = (FrozenEncoder.from_space(s, "toy") for s in (on_cpu, on_meta, in_bf16))
    assert cpu.cache_identity == meta.cache_identity == cpu.identity  # a cache filled on one serves the other
    assert "meta" not in repr(meta.cache_identity)
    assert bf16.identity == cpu.identity  # the model is the same: a space trained in fp32 is not stale
    assert bf16.cache_identity == {**cpu.identity, "precision": "bf16"}
    assert identity_hash(space_text_identity(on_cpu)) == identity_hash(space_text_identity(on_meta))


def test_every_installed_modality_moves_encoder_adapter_and_text_encoder():
    """Every plugin's default encoder (as built by its plugin) and the shipped text encoder end up
    wholly on the space's device."""
    from unibind.plugins import get_registry
    from unibind.space import Space

    registry = get_registry()
    modalities = sorted(s.name for s in registry.by_kind("modality") if s.name != "text")
    assert len(modalities) >= 5
    space = Space(registry=registry, device="meta", adapters={m: "linear" for m in modalities},
                  settings={"linear": {"init": "xavier"}})
    for modality in ["text", *modalities]:
        pipe = space.pipeline(modality)
        assert _all_on(pipe.encoder, META) and _all_on(pipe.adapter, META), modality
        assert any(True for _ in pipe.encoder.parameters()), modality


# -- scoring and training -----------------------------------------------------------------------
def test_centre_sets_score_where_the_queries_are():
    from unibind.knowledge.centres import score_centres

    centres, mask = torch.randn(5, 4, 8), torch.ones(5, 4, dtype=torch.bool)
    queries = torch.randn(3, 8)
    for reduce in ("max", "mean", "softmax"):
        on_cpu = score_centres(queries, centres, mask, reduce=reduce)
        on_meta = score_centres(queries.to(META), centres.to(META), mask.to(META), reduce=reduce)
        assert on_meta.device == META and on_meta.shape == on_cpu.shape == (3, 5)


def test_class_centre_scoring_runs_on_the_spaces_device(toy_registry):
    from unibind.space import Space

    space = Space(registry=toy_registry, device="meta")
    sims = space.similarities(torch.randn(2, space.dim), torch.randn(4, space.dim))
    assert sims.device == META and sims.shape == (2, 4)


def test_training_context_follows_the_setting(monkeypatch, no_gpu):
    from unibind.training.distributed import DistContext, init_from_env

    monkeypatch.setenv(devices.DEVICE_ENV, "meta")
    assert DistContext().device == META
    assert init_from_env().device == META
    assert init_from_env(device="cpu").device == torch.device("cpu")


@pytest.mark.parametrize("device, backend, expected", [("cuda", "nccl", torch.device("cuda", 1)),
                                                      ("cpu", "gloo", torch.device("cpu"))])
def test_torchrun_ranks_take_nccl_and_their_own_gpu_with_cuda(two_gpus, monkeypatch, device, backend, expected):
    from unibind.training import distributed

    joined, selected = [], []
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(distributed.dist, "init_process_group", lambda backend: joined.append(backend))
    monkeypatch.setattr(torch.cuda, "set_device", selected.append)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    ctx = distributed.init_from_env(device=device)
    assert (ctx.rank, ctx.world, ctx.device) == (1, 2, expected)
    assert joined == [backend] and selected == ([expected] if backend == "nccl" else [])


def test_the_encoders_own_encode_moves_its_batch_and_hands_back_cpu_tensors():
    class Tiny(Encoder):
        dim = 2

        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(3, 2)

        def preprocess(self, sample):
            return torch.tensor(sample, dtype=torch.float32)

        def forward(self, batch):
            return self.layer(batch)

    tiny = Tiny()
    assert tiny.encode([[1.0, 2.0, 3.0]]).device == torch.device("cpu")
    assert tiny.to(META).encode([[1.0, 2.0, 3.0]] * 3).shape == (3, 2)  # the CPU batch followed the weights


def test_text_embeddings_in_bf16_are_cached_apart_from_fp32_ones(toy_registry, tmp_path):
    from unibind.knowledge.textcache import TextEmbedder, TextEmbeddingCache
    from unibind.space import Space

    cache = TextEmbeddingCache(tmp_path / "texts.sqlite")
    fp32 = TextEmbedder.from_space(Space(registry=toy_registry, device="cpu"), cache=cache)
    bf16 = TextEmbedder.from_space(Space(registry=toy_registry, device="cpu", precision="bf16"), cache=cache)
    fp32(["a dog", "a cat"])
    assert fp32.encoded == 2 and bf16.hash == fp32.hash  # the same text side: centres made in fp32 still fit
    bf16(["a dog", "a cat"])
    assert bf16.encoded == 2  # not served the fp32 rows
    assert cache.count(fp32.cache_key) == cache.count(bf16.cache_key) == 2


def test_a_bad_environment_value_is_named_in_the_libraries_error(monkeypatch, no_gpu):
    monkeypatch.setenv(devices.DEVICE_ENV, "tpu")
    with pytest.raises(devices.DeviceError, match="UNIBIND_DEVICE: unknown device 'tpu'"):
        devices.resolve()
    assert devices.resolve("cpu") == torch.device("cpu")  # an explicit device does not read it


def test_evaluations_cached_embeddings_run_the_adapter_where_it_is(tmp_path):
    """Features come from the cache on the CPU; a space's adapter on another device gets them there."""
    from types import SimpleNamespace

    from unibind.evaluation.features import cached_embeddings

    class Plain(Encoder):
        modality, dim = "toy", 3

        def preprocess(self, sample):
            return torch.tensor(sample, dtype=torch.float32)

        def forward(self, batch):
            return batch

    adapter = torch.nn.Linear(3, 4).to(META)
    pipe = SimpleNamespace(encoder=Plain(), encoder_name="plain", adapter=adapter, loader=None)
    spec = SimpleNamespace(make_settings=lambda values: None)
    space = SimpleNamespace(pipeline=lambda modality: pipe, registry=SimpleNamespace(get=lambda kind, name: spec),
                            settings={}, dim=4)
    out = cached_embeddings(space, "toy", [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], cache_root=tmp_path)
    assert out.vectors.device == META and out.vectors.shape == (2, 4)


def test_fusion_probes_an_adapters_width_where_its_weights_are():
    from unibind.fusion import _out_dim

    assert _out_dim(torch.nn.Linear(5, 7).to(META), 5) == 7
