"""A user's mistake on the command line ends in exactly one ``Error:`` line and a non-zero exit.

Every case here crashed with a Python traceback, or gave a silently wrong answer, before
validation moved to the edge (click ranges, ``unibind_cli.validation``) and the top-level
group (``unibind_cli.errors.UserErrorGroup``) turned the library's own errors into one line.
Text files scored by the hashing test encoder stand in for a modality (no model to load).
"""

from __future__ import annotations

import json
import shutil
import sys

import pytest
from click.testing import CliRunner
from unibind_cli.main import cli


def _one_error(result, *needles: str) -> str:
    """The single ``Error:`` line of a failed run; asserts no traceback and a non-zero exit."""
    assert result.exit_code not in (0, None), result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # no uncaught exception
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def _run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "query.txt"
    path.write_text("a small dog")
    return str(path)


@pytest.mark.parametrize(("extra", "needles"), [
    (["--top-k", "0"], ["--top-k", "x>=1"]),
    (["--top-k", "-1"], ["--top-k"]),
    (["--threshold", "7"], ["--threshold", "0<=x<=1"]),
])
def test_classify_numbers_out_of_range(text_file, extra, needles) -> None:
    _one_error(_run("classify", text_file, "--labels", "dog,cat", *extra), *needles)


@pytest.mark.parametrize(("labels", "needle"), [
    (",,,", "empty label"),
    ("dog,,cat", "empty label"),
    ("dog", "at least 2"),
    ("dog,cat,dog", "duplicate label(s) dog"),   # was "dog 0.500, runner-up dog 0.50"
    ("dog, cat,Dog ", "duplicate label(s) Dog"),
])
def test_classify_labels_are_checked(text_file, labels, needle) -> None:
    _one_error(_run("classify", text_file, "--labels", labels), "--labels", needle)


def test_classify_space_must_be_a_space(text_file, tmp_path) -> None:
    _one_error(_run("classify", text_file, "--labels", "dog,cat", "--space", str(tmp_path / "typo")),
               "--space", "no such space directory")
    (tmp_path / "empty").mkdir()
    _one_error(_run("classify", text_file, "--labels", "dog,cat", "--space", str(tmp_path / "empty")),
               "--space", "no space.json")
    _one_error(_run("classify", text_file, "--labels", "dog,cat", "--space", text_file), "not a directory")


@pytest.mark.parametrize("size", ["0", "-5"])
def test_batch_size_must_be_positive(size) -> None:
    _one_error(_run("embed", "text", "hello", "--batch-size", size), "--batch-size")


@pytest.mark.parametrize(("extra", "needle"), [
    (["--epochs", "0"], "--epochs"),
    (["--val-fraction", "1"], "--val-fraction"),
    (["--val-fraction", "0"], "--val-fraction"),
    (["--lr", "-1"], "--lr"),
    (["--batch-size", "0"], "--batch-size"),
])
def test_train_options_out_of_range(tmp_path, text_file, extra, needle) -> None:
    _one_error(_run("train", "--data", text_file, "--out", str(tmp_path / "space"), *extra), needle)
    assert not (tmp_path / "space").exists()


def test_train_on_a_single_class_is_refused(fake_text_registry, tmp_path) -> None:
    fake_text_registry()
    for i in range(4):
        (tmp_path / "data" / "dog").mkdir(parents=True, exist_ok=True)
        (tmp_path / "data" / "dog" / f"{i}.txt").write_text(f"a dog number {i}")
    result = _run("train", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "space"))
    _one_error(result, "one class (dog)", "at least two classes")   # was: val accuracy 1.000
    assert not (tmp_path / "space" / "space.json").exists()


def _held_out(root, classes=("dog", "cat"), per_class=3):
    for label in classes:
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            (root / label / f"{label}-{i}.txt").write_text(f"a {label} picture {i}")
    return root


def test_calibrate_fit_on_a_single_class_is_refused(fake_text_registry, tmp_path) -> None:
    fake_text_registry()
    held = _held_out(tmp_path / "held", classes=("dog",))
    result = _run("calibrate", "fit", str(held), "--space", str(tmp_path / "space"), "--new",
                  "--modality", "text", "--labels", "dog,cat")
    _one_error(result, "only one class (dog)")   # was: ECE 0
    assert not (tmp_path / "space" / "calibrators").exists()


def test_calibrate_fit_does_not_write_into_a_typo(fake_text_registry, tmp_path) -> None:
    fake_text_registry()
    held = _held_out(tmp_path / "held")
    result = _run("calibrate", "fit", str(held), "--space", str(tmp_path / "sapce"), "--modality", "text")
    _one_error(result, "--space", "no such space directory")
    assert not (tmp_path / "sapce").exists()


def test_kb_centres_on_a_kb_without_descriptions(fake_text_registry, tmp_path) -> None:
    from unibind.knowledge.records import ClassRef
    from unibind.knowledge.store import KnowledgeBase

    fake_text_registry()
    kb = tmp_path / "kb.sqlite"
    with KnowledgeBase(kb, create=True) as store:
        store.ensure_class(ClassRef(name="dog"))
        store.ensure_class(ClassRef(name="cat"))
    result = _run("kb", "centres", "--kb", str(kb), "--out", str(tmp_path / "c.safetensors"))
    _one_error(result, str(kb), "no class has descriptions")   # was: ValueError: no classes
    assert not (tmp_path / "c.safetensors").exists()


@pytest.mark.parametrize("option", [["--per-class", "0"], ["--commit-every", "-1"]])
def test_kb_build_counts_must_be_positive(tmp_path, option) -> None:
    _one_error(_run("kb", "build", "--kb", str(tmp_path / "kb.sqlite"), "--classes", "dog",
                    "--source", "templates", *option), option[0])
    assert not (tmp_path / "kb.sqlite").exists()


def test_a_blocked_unpickle_is_an_input_error_naming_the_checkpoint(tmp_path) -> None:
    """The fast half: torch's weights-only unpickler refuses; the error names the .bin file."""
    import os

    import torch

    from unibind.encoders.text import _checkpoint_errors
    from unibind.errors import InputError

    class RunsCode:
        def __reduce__(self):
            return (os.system, ("echo this must never run",))

    (tmp_path / "config.json").write_text("{}")
    torch.save({"weight": RunsCode()}, tmp_path / "pytorch_model.bin")
    with pytest.raises(InputError, match="refused to unpickle") as caught, _checkpoint_errors(str(tmp_path)):
        torch.load(tmp_path / "pytorch_model.bin", weights_only=True)
    assert caught.value.source == str(tmp_path / "pytorch_model.bin")


@pytest.mark.slow  # imports transformers' model classes: 25-40 s on a busy 2-core machine
def test_a_blocked_unpickle_in_an_hf_text_checkpoint_names_the_file(tmp_path, text_file) -> None:
    """A pickled checkpoint that would run code is refused by torch; the user sees the file, not a trace."""
    import os

    import torch

    from unibind.encoders.text import minilm_path

    model = tmp_path / "model"
    shutil.copytree(minilm_path(), model, ignore=shutil.ignore_patterns("*.safetensors", "modules.json",
                                                                        "onnx", "openvino"))

    class RunsCode:
        def __reduce__(self):
            return (os.system, ("echo this must never run",))

    torch.save({"weight": RunsCode()}, model / "pytorch_model.bin")
    space = tmp_path / "space"
    space.mkdir()
    (space / "space.json").write_text(json.dumps({
        "format": "unibind-space", "version": 1, "text_encoder": "hf-text",
        "text_encoder_settings": {"model": str(model), "pooling": "mean"}, "text_identity": "x",
        "modalities": {}}))
    result = _run("classify", text_file, "--labels", "dog,cat", "--space", str(space))
    _one_error(result, str(model / "pytorch_model.bin"), "refused to unpickle")


def test_library_errors_become_one_line_without_secrets() -> None:
    """InputError with a newline, a pydantic ValidationError: one line each, input values not echoed."""
    import click
    from pydantic import BaseModel, Field
    from unibind_cli.errors import UserErrorGroup

    from unibind.errors import InputError
    from unibind.secrets import register_secret

    register_secret("sk-planted-canary-42")

    class Settings(BaseModel):
        k: int = Field(ge=1)

    @click.group(cls=UserErrorGroup)
    def group() -> None:
        pass

    @group.command()
    def bad_file() -> None:
        raise InputError("x.wav", "two\nlines, key sk-planted-canary-42")

    @group.command()
    def bad_settings() -> None:
        Settings(k="sk-planted-canary-42")

    @group.command()
    def bug() -> None:
        raise KeyError("a bug keeps its traceback")

    line = _one_error(CliRunner().invoke(group, ["bad-file"]), "x.wav: two lines, key ***")
    assert "canary" not in line
    line = _one_error(CliRunner().invoke(group, ["bad-settings"]), "k: Input should be a valid integer")
    assert "canary" not in line
    assert isinstance(CliRunner().invoke(group, ["bug"]).exception, KeyError)


def test_strict_mode_with_a_broken_plugin_is_one_error_line(monkeypatch, capsys) -> None:
    from unibind_cli.main import main

    import unibind.plugins
    from unibind.errors import PluginError

    def broken():
        raise PluginError("plugin 'fake_broken' failed to load: ZeroDivisionError: division by zero")

    monkeypatch.setattr(unibind.plugins, "get_plugin_manager", broken)
    monkeypatch.setattr(sys, "argv", ["unibind", "list-plugins"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code not in (0, None)
    err = capsys.readouterr().err
    assert err.splitlines() == ["Error: plugin 'fake_broken' failed to load: ZeroDivisionError: division by zero"]


def test_the_library_refuses_duplicate_labels_too(fake_text_registry, text_file) -> None:
    """Python callers get the same protection as the command line (InputError is a ValueError)."""
    from unibind.errors import InputError
    from unibind.space import Space

    space = Space(registry=fake_text_registry())
    with pytest.raises(InputError, match="duplicate label"):
        space.classify([text_file], ["dog", "cat", "Dog"])
    with pytest.raises(InputError, match="at least two labels"):
        space.classify([text_file], ["dog", " "])
    predictions, _ = space.classify([text_file], ["dog", "cat"])
    assert [s.label for s in predictions[0].top] in (["dog", "cat"], ["cat", "dog"])


def test_kb_caption_reports_a_dangling_symlink_as_skipped(fake_text_registry, tmp_path) -> None:
    from unibind_cli.kb import _labelled_samples

    registry = fake_text_registry()
    folder = tmp_path / "dog"
    folder.mkdir()
    (folder / "a.txt").write_text("a dog")
    (folder / "b.txt").symlink_to(tmp_path / "gone.txt")
    samples, skipped = _labelled_samples([str(folder)], registry, ("text",), None, {})
    assert [s.path for s in samples] == [str(folder / "a.txt")]
    assert [path for path, _ in skipped] == [folder / "b.txt"] and "No such file" in skipped[0][1]
