"""`unibind embed audio` and the Space on real sounds: batches finish, bad files are listed with reasons."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from unibind.space import Space


@pytest.fixture
def mixed_folder(tmp_path: Path, sound) -> Path:
    """Three real Tux Paint sounds next to a truncated WAV and a text file posing as OGG."""
    import shutil

    import soundfile as sf

    folder = tmp_path / "sounds"
    folder.mkdir()
    for name in ("cow", "duck", "drumkit"):
        shutil.copy(sound(name), folder / f"{name}.ogg")
    data, rate = sf.read(str(sound("horse")), dtype="float32")
    sf.write(str(folder / "horse.wav"), data, rate, subtype="PCM_16")
    whole = (folder / "horse.wav").read_bytes()
    (folder / "horse.wav").write_bytes(whole[: len(whole) // 2])
    (folder / "notes.ogg").write_text("a shopping list, not a sound\n")
    return folder


@pytest.mark.slow
def test_cli_embeds_a_folder_and_lists_bad_files(mixed_folder: Path) -> None:
    from unibind_cli.main import cli

    out = mixed_folder.parent / "audio.safetensors"
    # the untrained linear adapter keeps the test from building the ImageNet bridge's 1000 class texts
    result = CliRunner().invoke(cli, ["embed", "audio", str(mixed_folder), "--adapter", "linear",
                                       "--out", str(out)])
    print(result.output)
    assert result.exit_code == 1  # some inputs were skipped
    assert "saved 3 x 384 embeddings" in result.output
    assert "skipped 2 input(s)" in result.output
    assert "horse.wav: truncated: the WAV data chunk declares" in result.output
    assert "notes.ogg: not a readable audio file" in result.output
    from safetensors.torch import load_file

    assert load_file(str(out))["embeddings"].shape == (3, 384)


@pytest.mark.slow
def test_worker_processes_give_the_same_embeddings(mixed_folder: Path, spectrogram_encoder) -> None:
    from unibind.plugins import get_registry

    space = Space(adapters={"audio": "linear"})
    pipe = space.pipeline("audio")
    files = sorted(mixed_folder.iterdir())
    inline = space.embed_files(files, "audio", batch_size=2, workers=0, progress=False)
    forked = space.embed_files(files, "audio", batch_size=2, workers=2, progress=False)
    assert inline.sources == forked.sources and len(inline.sources) == 3
    assert torch.allclose(inline.vectors, forked.vectors, atol=1e-5)
    assert sorted(Path(f.source).name for f in forked.failures) == ["horse.wav", "notes.ogg"]
    assert pipe.encoder_name == get_registry().default("encoder", "audio").name
