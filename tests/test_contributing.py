"""Every code block of CONTRIBUTING.md is executed here, so the guide cannot drift from the code.

- ``python`` blocks whose first line is ``# path/to/file.py`` must appear verbatim in that
  file, and are executed in that module's namespace (its imports available); their
  ``test_*`` functions are called with a fresh ``tmp_path``. Other ``python`` blocks are
  complete programs, executed on their own in an empty folder.
- ``toml`` blocks whose first line is ``# path/to/pyproject.toml`` must agree with that file.
- ``console`` blocks: each ``$ unibind ...`` line runs in an empty folder (``list-plugins``,
  ``plugin new``) or, for commands that need data or models, with ``--help`` so every
  sub-command and option it uses must exist; other programs must exist and the repository
  paths they name must be there.
- ``text`` and ``json`` blocks are output or layouts, not code. No other kind is allowed, and
  no block a reader copies may hold ``...`` as a placeholder.
"""

from __future__ import annotations

import importlib
import io
import inspect
import os
import re
import runpy
import shlex
import shutil
import sys
import textwrap
import tokenize
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from unibind_cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>\w*)\n(?P<body>.*?)^(?P=indent)```", re.M | re.S)
BLOCKS = [(m["lang"], textwrap.dedent(m["body"]), GUIDE[: m.start()].count("\n") + 1) for m in FENCE.finditer(GUIDE)]
RUN_FOR_REAL = {("list-plugins",), ("plugin", "new")}


def _blocks(lang: str) -> list:
    return [pytest.param(body, id=f"line{line}", marks=[pytest.mark.slow] if "Space(" in body else [])
            for kind, body, line in BLOCKS if kind == lang]


def _source_header(body: str) -> tuple[Path | None, str]:
    first, _, rest = body.partition("\n")
    if first.startswith("# ") and (ROOT / first[2:].strip()).is_file():
        return ROOT / first[2:].strip(), rest
    return None, body


def test_every_block_has_a_known_kind() -> None:
    kinds = {kind for kind, _, _ in BLOCKS}
    assert kinds <= {"python", "toml", "console", "text", "json"}, kinds
    assert len([k for k in kinds if k == "python"]) and len(BLOCKS) >= 20


@pytest.mark.parametrize("body", _blocks("python"))
def test_python_block_runs(body: str, tmp_path: Path, monkeypatch) -> None:
    code_tokens = [t.string for t in tokenize.generate_tokens(io.StringIO(body).readline)
                   if t.type not in (tokenize.COMMENT, tokenize.STRING)]
    assert "..." not in code_tokens, "a placeholder (...) a reader cannot copy"
    source, code = _source_header(body)
    monkeypatch.chdir(tmp_path)
    if source is None:
        namespace: dict = {"__name__": "contributing_block"}
    else:
        assert code.strip() in source.read_text(encoding="utf-8"), f"not (or no longer) verbatim in {source}"
        namespace = _namespace_of(source)
    before = set(namespace)
    exec(compile(code, f"CONTRIBUTING.md block from {source or 'the guide'}", "exec"), namespace)
    for name in sorted(set(namespace) - before):
        if name.startswith("test_") and callable(namespace[name]):
            parameters = inspect.signature(namespace[name]).parameters
            assert set(parameters) <= {"tmp_path"}, f"{name} needs fixtures the guide does not give"
            folder = tmp_path / name
            folder.mkdir()
            namespace[name](**({"tmp_path": folder} if parameters else {}))


def _namespace_of(source: Path) -> dict:
    """The module a block was taken from: imported when it is a package module, else run as a file."""
    parts = source.relative_to(ROOT).with_suffix("").parts
    if "src" in parts:
        module = importlib.import_module(".".join(parts[parts.index("src") + 1:]))
        return dict(vars(module))
    return runpy.run_path(str(source), run_name="contributing_source")


@pytest.mark.parametrize("body", _blocks("toml"))
def test_toml_block_agrees_with_its_file(body: str) -> None:
    source, code = _source_header(body)
    shown = tomllib.loads(code)
    assert source is not None, "name the file a pyproject block is taken from"
    actual = tomllib.loads(source.read_text(encoding="utf-8"))
    _assert_subset(shown, actual, source.name)


def _assert_subset(shown, actual, where: str) -> None:
    if isinstance(shown, dict):
        for key, value in shown.items():
            assert key in actual, f"{where}: {key} is not in the file"
            _assert_subset(value, actual[key], f"{where}.{key}")
    else:
        assert shown == actual, f"{where}: guide {shown!r} != file {actual!r}"


@pytest.mark.parametrize("body", _blocks("console"))
def test_console_block_commands_exist(body: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for line in body.splitlines():
        if not line.startswith("$ "):
            continue  # output
        words = shlex.split(line[2:], comments=True)
        env = {}
        while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
            key, _, value = words.pop(0).partition("=")
            env[key] = value
        program, args = words[0], words[1:]
        if program == "unibind":
            _run_unibind(args, env, monkeypatch)
        else:
            assert shutil.which(program) or (ROOT / program).exists() or shutil.which(Path(program).name), program
            for arg in args:
                if re.match(r"^(examples|plugins|constraints|tests|docs)/", arg):
                    assert (ROOT / arg.split("[")[0]).exists(), f"{line}: {arg} does not exist"


def _run_unibind(args: list[str], env: dict[str, str], monkeypatch) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    command = tuple(a for a in args[:2] if not a.startswith("-"))
    real = any(command[: len(c)] == c for c in RUN_FOR_REAL)
    result = CliRunner().invoke(cli, args if real else [*args, "--help"], terminal_width=200)
    assert result.exit_code == 0, f"unibind {' '.join(args)}: {result.output}"
    if command[:2] == ("plugin", "new"):
        folder = Path(args[args.index("--dir") + 1]) / f"unibind-plugin-{args[2]}"
        assert (folder / "pyproject.toml").is_file()


def test_the_guide_documents_what_authors_had_to_read_the_source_for() -> None:
    for topic in ("ImageBackedEncoder", "encoder_for", "ImuRenderEncoder.from_settings",
                  "requires", "tests/conftest.py", "truncated", "corrupted", "skip_bad_files", ".imu.csv",
                  "constraints/tested.txt", "unibind plugin new"):
        assert topic in GUIDE, topic
    assert os.path.exists(ROOT / "constraints" / "tested.txt")
    assert sys.version_info >= (3, 10)
