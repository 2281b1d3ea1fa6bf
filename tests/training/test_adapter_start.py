"""Which start each adapter gets (``init``: auto by default) and which adapters the anchor pulls back."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_bridge_init import _Encoder, bridge_registry  # noqa: E402,F401  (the fixture)
from test_training_pipeline import config, manifest  # noqa: E402

from unibind.errors import SettingsError  # noqa: E402
from unibind.training.bridge_init import can_bridge  # noqa: E402
from unibind.training.pipeline import DEFAULT_INIT, TrainConfig, adapter_start, train_space  # noqa: E402


class _NoHead:
    dim = 6


def _config(**kwargs):
    return TrainConfig(data=Path("x.jsonl"), out=Path("out"), **kwargs)


def test_auto_starts_from_the_bridge_only_where_the_encoder_has_a_head_and_a_bridge_is_installed(bridge_registry):
    registry = bridge_registry("StatedBridge")
    linear = registry.get("adapter", "linear")
    assert can_bridge(_Encoder(), registry) and not can_bridge(_NoHead(), registry)
    assert adapter_start(_config(), "image", linear, _Encoder(), registry) == {"init": "text-bridge"}
    assert adapter_start(_config(), "audio", linear, _NoHead(), registry) == {"init": "xavier"}
    # a modality's own init wins; "auto" given per modality resolves too
    assert adapter_start(_config(adapter_settings={"image": {"init": "zeros"}}), "image", linear, _Encoder(),
                         registry) == {"init": "zeros"}
    assert adapter_start(_config(init="xavier", adapter_settings={"image": {"init": "auto", "bias": False}}),
                         "image", linear, _Encoder(), registry) == {"init": "text-bridge", "bias": False}
    assert adapter_start(_config(init="orthogonal"), "image", linear, _Encoder(), registry) == {"init": "orthogonal"}


def test_without_a_bridge_plugin_auto_is_xavier(make_plugin, manager_with):
    registry = manager_with({}).registry
    assert not can_bridge(_Encoder(), registry)
    assert adapter_start(_config(), "image", registry.get("adapter", "linear"), _Encoder(), registry) == {
        "init": "xavier"}


def test_an_init_asked_of_an_adapter_that_takes_none_is_an_error_not_a_no_op(fake_registry):
    identity = fake_registry.get("adapter", "never-default")
    assert adapter_start(_config(), "vec", identity, _NoHead(), fake_registry) is None  # auto: its own start
    with pytest.raises(SettingsError, match="takes no init"):
        adapter_start(_config(init="text-bridge"), "vec", identity, _NoHead(), fake_registry)


def test_the_default_is_the_measured_one():
    assert TrainConfig.model_fields["init"].default == DEFAULT_INIT == "auto"


def test_the_anchor_pulls_back_only_adapters_that_start_from_the_bridge(tmp_path, fake_registry):
    data = manifest(tmp_path)
    runs = {}
    for weight in (0.0, 50.0):
        cfg = config(tmp_path, data, anchor_weight=weight).model_copy(update={"out": tmp_path / f"space{weight}"})
        runs[weight] = train_space(cfg, registry=fake_registry)
    assert runs[0.0].starts == {"vec": "xavier"}   # the synthetic encoder has no ImageNet head
    for p, q in zip(runs[0.0].fit.adapters["vec"].parameters(), runs[50.0].fit.adapters["vec"].parameters()):
        assert torch.equal(p, q)   # a random start is not anchored, whatever the weight


def test_train_says_each_adapters_start_and_what_the_anchor_holds(tmp_path, fake_registry):
    from click.testing import CliRunner

    from unibind_cli.main import cli

    data = manifest(tmp_path)
    args = ["train", "--data", str(data), "--epochs", "2", "--batch-size", "8", "--cache-dir", str(tmp_path / "c"),
            "--threads", "1"]
    quiet = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "s1")])
    assert quiet.exit_code == 0, quiet.output
    assert "adapter start: vec xavier (--init auto)\n" in quiet.stdout   # the default anchor: nothing to say
    told = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "s2"), "--anchor-weight", "5"])
    assert "--anchor-weight 5 anchors nothing: no adapter starts from the text bridge" in told.stdout
    two = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "s3"), "--init", "xavier", "--init", "zeros"])
    assert two.exit_code != 0 and "--init" in two.output and "Traceback" not in two.output
