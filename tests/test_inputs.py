"""Files and folders as users hand them over: one expansion for every command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sklearn.datasets import __file__ as sklearn_datasets

from unibind.errors import NotRegisteredError
from unibind.inputs import NoInputsError, expand_inputs
from unibind.plugins import reset_plugin_manager
from unibind.specs import ModalitySpec
from unibind_cli.main import cli

PHOTOS = Path(sklearn_datasets).parent / "images"


@pytest.fixture
def registry(make_plugin, manager_with):
    """The built-ins plus an IMU modality claiming the double suffix ``.imu.csv`` and a ``.png`` one."""

    def modalities(register):
        register(ModalitySpec(name="imu", factory="unibind.modality:Modality", suffixes=(".imu.csv",)))
        register(ModalitySpec(name="picture", factory="unibind.modality:Modality", suffixes=(".png",)))

    manager = manager_with({"fakes": make_plugin("fakes", unibind_modalities=modalities)})
    reset_plugin_manager(manager)
    return manager.registry


def _tree(root: Path) -> Path:
    (root / "a" / "deeper").mkdir(parents=True)
    (root / "a" / "walk.imu.csv").write_text("t,x,y,z\n0,0,0,1\n")
    (root / "a" / "deeper" / "run.IMU.CSV").write_text("t,x,y,z\n0,0,0,1\n")
    (root / "a" / "plain.csv").write_text("t,x\n0,1\n")
    (root / "b.png").write_bytes(b"\x89PNG")
    (root / ".DS_Store").write_bytes(b"junk")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "x.png").write_bytes(b"\x89PNG")
    (root / "dead.png").symlink_to(root / "gone.png")
    return root


def test_folders_expand_recursively_by_claimed_suffix_including_double_suffixes(tmp_path, registry):
    found = expand_inputs([_tree(tmp_path / "in")], registry)
    names = sorted(p.name for p in found.files)
    assert names == ["b.png", "run.IMU.CSV", "walk.imu.csv"]  # .imu.csv matched case-insensitively
    assert found.ignored == {".csv": 1}  # plain.csv: no modality claims it
    assert "give them as files" in found.ignored_note()
    (dead,) = found.skipped
    assert dead.source.endswith("dead.png") and "dangling symlink" in dead.reason and "gone.png" in dead.reason


def test_a_named_modality_takes_its_suffixes_or_every_file_of_a_folder_that_has_none(tmp_path, registry):
    tree = _tree(tmp_path / "in")
    found = expand_inputs([tree / "a"], registry, modality="imu")
    assert sorted(p.name for p in found.files) == ["run.IMU.CSV", "walk.imu.csv"]
    assert found.ignored == {".csv": 1}  # plain.csv: counted and reported, not silently dropped
    plain = tmp_path / "plain-recordings"
    plain.mkdir()
    for name in ("walk.csv", "run.csv"):
        (plain / name).write_text("t,x\n0,1\n")
    found = expand_inputs([plain], registry, modality="imu")
    assert sorted(p.name for p in found.files) == ["run.csv", "walk.csv"] and not found.ignored


def test_a_file_given_by_name_is_kept_whatever_its_suffix(tmp_path, registry):
    odd = tmp_path / "reading.weird"
    odd.write_text("x")
    assert expand_inputs([odd], registry).files == [odd]


def test_zero_inputs_is_an_error_that_says_what_the_folder_held(tmp_path, registry):
    folder = tmp_path / "csvs"
    folder.mkdir()
    (folder / "one.csv").write_text("x\n")
    with pytest.raises(NoInputsError, match=r"no input files: .*\.csv x1.*name the modality"):
        expand_inputs([folder], registry)
    (tmp_path / "empty").mkdir()
    with pytest.raises(NoInputsError, match="empty"):
        expand_inputs([tmp_path / "empty"], registry)
    with pytest.raises(NoInputsError, match="nope.png: no such file or folder"):
        expand_inputs([tmp_path / "nope.png"], registry)
    with pytest.raises(NotRegisteredError, match="smell"):
        expand_inputs([folder], registry, modality="smell")


def test_embed_with_a_named_modality_and_an_empty_folder_fails_loudly_not_silently(tmp_path, registry):
    """Today's bug: ``embed imu folder/`` embedded nothing and exited 0."""
    folder = tmp_path / "csvs"
    folder.mkdir()
    empty = CliRunner().invoke(cli, ["embed", "imu", str(folder)])
    assert empty.exit_code != 0 and empty.output.startswith("Error: no input files")
    assert len(empty.output.strip().splitlines()) == 1


def test_classify_expands_a_folder_as_the_readme_shows(tmp_path):
    photos = tmp_path / "photos"
    (photos / "holiday").mkdir(parents=True)
    for name in ("flower.jpg", "china.jpg"):
        shutil.copy(PHOTOS / name, photos / "holiday" / name)
    (photos / "notes.csv").write_text("not a photo\n")
    (photos / "lost.jpg").symlink_to(tmp_path / "moved-away.jpg")
    result = CliRunner().invoke(cli, ["classify", str(photos), "--labels", "flower,building,dog", "--json"])
    assert result.exit_code == 1  # the dangling symlink is reported, the rest classified
    predictions = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert {Path(p["source"]).name: p["label"] for p in predictions} == {"china.jpg": "building",
                                                                          "flower.jpg": "flower"}
    assert "lost.jpg: dangling symlink" in result.stderr and "ignored 1 file" in result.stderr
