"""The training manifest: documented by a schema generated from its model, and errors that say why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from unibind.errors import InputError
from unibind.specs import ModalitySpec
from unibind.training.data import manifest_schema, read_dataset

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_committed_schema_is_the_generated_one() -> None:
    """Regenerate: python -c "import json; from unibind.training.data import manifest_schema as s;
    print(json.dumps(s(), indent=2))" > docs/training-manifest.schema.json"""
    assert json.loads((DOCS / "training-manifest.schema.json").read_text()) == manifest_schema()
    documented = (DOCS / "training-manifest.md").read_text()
    for field in manifest_schema()["properties"]:
        assert f"| `{field}` |" in documented


@pytest.fixture
def imu_registry(make_plugin, manager_with):
    def modalities(register):
        register(ModalitySpec(name="imu", factory="unibind.modality:Modality", suffixes=(".imu.csv",)))

    return manager_with({"imu": make_plugin("imu", unibind_modalities=modalities)}).registry


def _manifest(tmp_path: Path, lines: list[dict]) -> Path:
    for line in lines:
        (tmp_path / line["path"]).write_text("t,x,y,z\n0,0,0,1\n")
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_unusable_samples_say_why_and_what_to_add(tmp_path: Path, imu_registry) -> None:
    manifest = _manifest(tmp_path, [{"path": f"walk-{i}.csv", "label": "walk"} for i in range(3)])
    with pytest.raises(InputError) as caught:
        read_dataset(manifest, imu_registry, ["imu"])
    message = str(caught.value)
    assert "no usable samples of imu" in message
    assert '3 sample(s) with suffix .csv that no single modality claims; add "modality": "imu"' in message


def test_the_modality_field_and_the_double_suffix_both_work(tmp_path: Path, imu_registry) -> None:
    manifest = _manifest(tmp_path, [{"path": "walk.csv", "label": "walk", "modality": "imu"},
                                    {"path": "run.imu.csv", "label": "run"}])
    items, failures = read_dataset(manifest, imu_registry, ["imu"])
    assert [(i.path.name, i.modality) for i in items] == [("walk.csv", "imu"), ("run.imu.csv", "imu")]
    assert failures == []


def test_an_unknown_field_is_reported_not_ignored(tmp_path: Path, imu_registry) -> None:
    manifest = _manifest(tmp_path, [{"path": "a.imu.csv", "label": "walk"},
                                    {"path": "b.csv", "label": "walk", "modalty": "imu"}])
    items, failures = read_dataset(manifest, imu_registry, ["imu"])
    assert [i.path.name for i in items] == ["a.imu.csv"]
    (failure,) = failures
    assert failure.source.endswith("train.jsonl:2") and "modalty" in failure.reason
