"""``--device`` / ``--precision`` / ``UNIBIND_DEVICE`` on the command line: one shared option,
validated where it enters, and the choice reaches the space the command builds."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner
from unibind_cli.main import cli

from unibind import devices

#: Every command that runs a model (or scores with one).
MODEL_COMMANDS = [("embed",), ("classify",), ("train",), ("demo",), ("search",), ("eval", "zeroshot"),
                  ("eval", "report"), ("calibrate", "fit"), ("calibrate", "fit-multi-label"), ("calibrate", "report"),
                  ("index", "build"), ("index", "add"), ("kb", "centres"), ("bench", "embed"), ("bench", "labels"), ("bench", "index")]


@pytest.fixture(autouse=True)
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.delenv(devices.DEVICE_ENV, raising=False)
    monkeypatch.delenv(devices.PRECISION_ENV, raising=False)


def _command(path):
    command = cli
    for name in path:
        command = command.commands[name]
    return command


def _one_error(result, *needles: str) -> str:
    assert result.exit_code not in (0, None), result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


@pytest.mark.parametrize("path", MODEL_COMMANDS, ids=" ".join)
def test_every_model_command_takes_the_shared_device_options(path):
    params = {p.name: p for p in _command(path).params}
    assert params["device"].envvar == "UNIBIND_DEVICE" and params["device"].default == "auto"
    assert params["precision"].envvar == "UNIBIND_PRECISION" and params["precision"].default == "fp32"
    assert "--device" in CliRunner().invoke(cli, [*path, "--help"]).output


@pytest.mark.parametrize("args, env, needles", [
    (["--device", "gpu"], {}, ["'--device'", "unknown device 'gpu'", "cuda:N"]),
    (["--device", "cuda"], {}, ["'--device'", "cuda is not available here"]),
    (["--device", "cuda:1"], {}, ["'--device'", "cuda is not available here"]),
    (["--device", "mps"], {}, ["'--device'", "mps is not available here"]),
    (["--device", "meta"], {}, ["'--device'", "unknown device 'meta'"]),
    ([], {"UNIBIND_DEVICE": "tpu"}, ["UNIBIND_DEVICE", "unknown device 'tpu'"]),
    (["--precision", "fp16"], {}, ["'--precision'", "fp16 autocast is not supported on cpu"]),
    ([], {"UNIBIND_PRECISION": "fp16"}, ["UNIBIND_PRECISION", "fp16"]),
    (["--precision", "fp8"], {}, ["'--precision'", "fp8"]),
])
def test_a_bad_or_absent_device_is_one_error_line_naming_the_option(args, env, needles):
    result = CliRunner().invoke(cli, ["embed", "text", "hello", *args], env=env)
    _one_error(result, *needles)


@pytest.fixture
def recorded_spaces(monkeypatch):
    """Each Space the command builds records (device, precision); no model is loaded."""
    from unibind.space import Space

    seen = []

    def embed_text(self, texts):
        seen.append((self.device, self.precision))
        return torch.zeros(len(texts), 4)

    monkeypatch.setattr(Space, "embed_text", embed_text)
    return seen


def test_the_option_beats_the_environment_and_reaches_the_space(monkeypatch, recorded_spaces):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    runner = CliRunner()
    assert runner.invoke(cli, ["embed", "text", "hi"], env={"UNIBIND_DEVICE": "mps"}).exit_code == 0
    assert runner.invoke(cli, ["embed", "text", "hi", "--device", "cpu"], env={"UNIBIND_DEVICE": "mps"}).exit_code == 0
    assert runner.invoke(cli, ["embed", "text", "hi", "--precision", "bf16"]).exit_code == 0
    assert runner.invoke(cli, ["embed", "text", "hi"]).exit_code == 0  # auto: the best available
    assert recorded_spaces == [(torch.device("mps"), "fp32"), (torch.device("cpu"), "fp32"),
                               (torch.device("mps"), "bf16"), (torch.device("mps"), "fp32")]
    assert devices._chosen == {"device": None, "precision": None}  # the choice ended with the command
