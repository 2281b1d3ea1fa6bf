"""`unibind index` and `unibind search` end to end on a model-free space (see conftest)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def _hits(out: str) -> list[dict]:
    return json.loads(out)["hits"]


def _one_error_line(code: int, err: str, *needles: str) -> None:
    """Exit != 0, no traceback, one Error line naming what was wrong (click adds a usage hint above misused options)."""
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert code != 0 and len(errors) == 1 and err.strip().endswith(errors[0]) and "Traceback" not in err, err
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])


def test_text_query_finds_the_file_that_says_it_across_modalities(run, gallery, tmp_path):
    index = tmp_path / "g.index"
    code, out, err = run("index", "build", gallery, "--out", index)
    assert code == 0, err
    assert "4 note" in out and "3 chirp" in out
    code, out, _ = run("search", index, "dog barking", "--k", "3", "--json")
    hits = _hits(out)
    assert code == 0 and len(hits) == 3
    assert {Path(h["path"]).name for h in hits[:2]} == {"dog.note", "dog.chirp"}
    assert {h["modality"] for h in hits[:2]} == {"note", "chirp"}
    assert hits[0]["cosine"] >= hits[1]["cosine"] >= hits[2]["cosine"]
    assert json.loads(out)["calibrated"] == {"note": False, "chirp": False}
    code, out, _ = run("search", index, "dog barking", "--k", "3")
    assert "uncalibrated cosine" in out and "dog." in out.splitlines()[1]


def test_a_file_is_a_query_of_its_own_modality(run, gallery, tmp_path):
    index = tmp_path / "g.index"
    run("index", "build", gallery, "--out", index)
    code, out, _ = run("search", index, gallery / "dog.chirp", "--k", "2", "--modality", "note", "--json")
    assert code == 0 and json.loads(out)["query_modality"] == "chirp"
    hits = _hits(out)
    assert Path(hits[0]["path"]).name == "dog.note" and {h["modality"] for h in hits} == {"note"}
    code, out, _ = run("search", index, gallery / "dog.chirp", "--k", "1", "--text", "--json")
    assert json.loads(out)["query_modality"] == "text"


def test_balanced_returns_the_top_hits_of_each_modality(run, gallery, tmp_path):
    index = tmp_path / "g.index"
    run("index", "build", gallery, "--out", index)
    _, out, _ = run("search", index, "dog barking", "--k", "2", "--json")
    assert len(_hits(out)) == 2
    _, out, _ = run("search", index, "a train passing", "--k", "2", "--balanced", "--json")
    hits = _hits(out)
    by_modality = {m: [Path(h["path"]).name for h in hits if h["modality"] == m] for m in ("note", "chirp")}
    assert len(by_modality["note"]) == 2 and len(by_modality["chirp"]) == 2
    assert by_modality["note"][0] == "train.note"


def test_add_indexes_only_what_is_new_and_remove_deletes_by_path(run, gallery, tmp_path):
    index = tmp_path / "g.index"
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "owl.chirp").write_text("an owl hooting at night")
    run("index", "build", gallery / "dog.note", gallery / "cat.note", "--out", index)
    code, out, _ = run("index", "add", index, gallery)
    assert code == 0 and "added 3 chirp, 2 note; 2 already indexed; 7 items" in out
    code, out, _ = run("index", "add", index, gallery, tmp_path / "more")
    assert "added 1 chirp; 7 already indexed; 8 items" in out
    _, out, _ = run("search", index, "owl hooting", "--k", "1", "--json")
    assert Path(_hits(out)[0]["path"]).name == "owl.chirp"

    code, out, _ = run("index", "remove", index, gallery / "dog.note", tmp_path / "more")
    assert code == 0 and "removed 2 item(s); 6 left" in out
    _, out, _ = run("search", index, "dog barking owl hooting", "--k", "10", "--json")
    names = [Path(h["path"]).name for h in _hits(out)]
    assert len(names) == 6 and "dog.note" not in names and "owl.chirp" not in names and "dog.chirp" in names
    code, _, err = run("index", "remove", index, gallery / "dog.note")
    _one_error_line(code, err, "not in the index", "dog.note")


def _text_identity(settings=None):
    """What a space trained with the hashing text encoder records (a made-up value is refused as stale)."""
    from unibind.space import Space
    from unibind.spacedir import text_identity

    return text_identity(Space(text_encoder="hashing", settings={"hashing": settings} if settings else None))


def test_a_different_space_is_refused_with_the_command_that_rebuilds(run, gallery, tmp_path):
    from unibind.spacedir import ModalityRecord, SpaceRecord, write_record

    index = tmp_path / "g.index"
    run("index", "build", gallery, "--out", index)
    space_dir = tmp_path / "space"
    space_dir.mkdir()
    mods = {m: ModalityRecord(encoder=f"{m}-words", adapter="words-identity", in_dim=64, out_dim=64)
            for m in ("note", "chirp")}
    write_record(space_dir, SpaceRecord(text_encoder="hashing", text_identity=_text_identity(), modalities=mods))
    code, _, err = run("search", index, "dog", "--space", space_dir)
    _one_error_line(code, err, str(index), "unibind index build", f"--space {space_dir}")

    # an index built with the space directory is refused once the space's content changes, not before
    assert run("index", "build", gallery, "--space", space_dir, "--out", index, "--force")[0] == 0
    assert run("search", index, "dog", "--json")[0] == 0
    salted = {"salt": "other"}
    write_record(space_dir, SpaceRecord(text_encoder="hashing", text_encoder_settings=salted,
                                        text_identity=_text_identity(salted), modalities=mods))
    code, _, err = run("search", index, "dog")
    _one_error_line(code, err, "identity")
    code, _, err = run("index", "add", index, gallery)
    _one_error_line(code, err, "unibind index build")


def test_a_temperature_calibrator_in_the_space_gives_calibrated_probabilities(run, gallery, tmp_path):
    from unibind.calibration.store import CalibratorRecord, FittedCalibrator, save_calibrator
    from unibind.calibration.temperature import TemperatureScaler, TemperatureSettings
    from unibind.spacedir import ModalityRecord, SpaceRecord, write_record

    space_dir = tmp_path / "space"
    space_dir.mkdir()
    mods = {m: ModalityRecord(encoder=f"{m}-words", adapter="words-identity", in_dim=64, out_dim=64)
            for m in ("note", "chirp")}
    write_record(space_dir, SpaceRecord(text_encoder="hashing", text_identity=_text_identity(), modalities=mods))
    index = tmp_path / "g.index"
    run("index", "build", gallery, "--space", space_dir, "--out", index)
    # fitted after the index was built: the index stays valid (calibrators do not change vectors)
    save_calibrator(space_dir, FittedCalibrator(TemperatureScaler(TemperatureSettings(temperature=20.0)),
                                                CalibratorRecord(name="temperature", modality="note")))
    code, out, err = run("search", index, "dog barking", "--k", "3", "--balanced", "--json")
    assert code == 0, err
    found = json.loads(out)
    assert found["calibrated"] == {"note": True, "chirp": False}
    notes = [h for h in found["hits"] if h["modality"] == "note"]
    assert sum(h["probability"] for h in notes) == pytest.approx(1.0, abs=1e-6)
    assert notes[0]["probability"] > notes[1]["probability"]
    assert all(h["probability"] is None for h in found["hits"] if h["modality"] == "chirp")


def test_a_failed_save_leaves_the_previous_index_whole(run, gallery, tmp_path, monkeypatch):
    import safetensors.numpy

    index = tmp_path / "g.index"
    run("index", "build", gallery, "--out", index)
    before = index.read_bytes()

    def broken(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.numpy, "save_file", broken)
    with pytest.raises(OSError):
        run("index", "remove", index, gallery / "cat.note")
    assert index.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_bad_files_are_skipped_and_reported_and_the_rest_indexed(run, gallery, tmp_path):
    (gallery / "empty.note").write_text("   ")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"path": str(gallery / "cat.note")}) + "\nnot json\n"
                        + json.dumps({"path": "missing.note"}) + "\n")
    code, out, err = run("index", "build", gallery, manifest, "--out", tmp_path / "g.index")
    assert code == 1 and "7 items" in out
    assert "empty.note" in err and "m.jsonl:2" in err and "missing.note" in err


@pytest.mark.parametrize("args, needles", [
    (["-s", "nprobe=0"], ["--set", "nprobe"]),
    (["-s", "colour=red"], ["--set", "colour"]),
    (["-s", "kind"], ["--set", "KEY=VALUE"]),
    (["--k", "0"], ["--k"]),
    (["--modality", "smell"], ["--modality smell", "holds no smell"]),
])
def test_bad_search_options_end_in_one_error_line(run, gallery, tmp_path, args, needles):
    index = tmp_path / "g.index"
    run("index", "build", gallery, "--out", index)
    code, _, err = run("search", index, "dog", *args)
    _one_error_line(code, err, *needles)


def test_bad_index_files_end_in_one_error_line(run, gallery, tmp_path):
    code, _, err = run("search", tmp_path / "nothing.index", "dog")
    _one_error_line(code, err, "nothing.index", "unibind index build")
    junk = tmp_path / "junk.index"
    junk.write_bytes(b"\x00" * 40)
    code, _, err = run("index", "info", junk)
    _one_error_line(code, err, "junk.index")
    index = tmp_path / "g.index"
    run("index", "build", gallery, "--out", index)
    before = index.read_bytes()
    code, _, err = run("index", "build", gallery, "--out", index)
    _one_error_line(code, err, "exists", "--force")
    assert index.read_bytes() == before
    code, _, err = run("index", "build", tmp_path / "nowhere", "--out", tmp_path / "x.index")
    _one_error_line(code, err, "nowhere")
    assert not (tmp_path / "x.index").exists()


def test_info_says_what_the_index_holds(run, gallery, tmp_path):
    index = tmp_path / "g.index"
    run("index", "build", gallery, "--out", index, "-s", "kind=hnsw")
    code, out, _ = run("index", "info", index)
    assert code == 0 and "7 items" in out and "note: 4 items, hnsw" in out and "embedded default" in out
    record = json.loads(run("index", "info", index, "--json")[1])
    assert record["settings"]["kind"] == "hnsw" and record["modalities"]["chirp"]["count"] == 3


def test_a_build_killed_midway_keeps_what_was_saved_and_add_embeds_only_the_rest(run, gallery, tmp_path,
                                                                                monkeypatch):
    from unibind.space import Space

    embedded: list[str] = []
    real = Space.embed_files

    def counting(self, paths, modality=None, **kwargs):
        if len(embedded) >= 4:
            raise KeyboardInterrupt  # the build dies here, as under kill, after two saved chunks
        embedded.extend(map(str, paths))
        return real(self, paths, modality, **kwargs)

    monkeypatch.setattr(Space, "embed_files", counting)
    index = tmp_path / "g.index"
    assert run("index", "build", gallery, "--out", index, "-s", "save_every=2")[0] != 0
    before = list(embedded)
    kept = json.loads(run("index", "info", index, "--json")[1])
    assert 4 <= len(before) < 7 and sum(p["count"] for p in kept["modalities"].values()) == len(before)
    monkeypatch.setattr(Space, "embed_files", real)
    code, out, _ = run("index", "add", index, gallery)
    assert code == 0 and f"{len(before)} already indexed; 7 items" in out
    _, out, _ = run("search", index, "a", "--k", "50", "--json")
    paths = [h["path"] for h in _hits(out)]
    assert len(paths) == len(set(paths)) == 7 and set(before) <= set(paths)


def test_a_mistyped_file_query_is_an_error_not_a_text_search(run, gallery, tmp_path):
    index = tmp_path / "g.index"
    run("index", "build", gallery, "--out", index)
    code, _, err = run("search", index, gallery / "dgo.note")
    _one_error_line(code, err, "dgo.note", "no such file", "--text")
    code, out, _ = run("search", index, gallery / "dgo.note", "--text", "--json")
    assert code == 0 and json.loads(out)["query_modality"] == "text"
    assert run("search", index, "dog", "--json")[0] == 0  # one plain word is text
