"""`unibind embed` under torchrun (2 ranks, gloo on loopback) and on WebDataset shards.

The 2-rank run must give exactly the single-process embeddings, and a run
with one rank killed mid-way must, when rerun, encode only what was not
committed to the shared feature cache (counted by the encoder itself).
"""

from __future__ import annotations

import io
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

TRAINING = Path(__file__).parents[1] / "training"
sys.path.insert(0, str(TRAINING))
import training_fakes as fakes

PLUGIN = '''
import os, signal
import training_fakes as fakes
from unibind import hookimpl
from unibind.specs import EncoderSpec


class DyingEncoder(fakes.CountingEncoder):
    """The counting encoder; on the rank named by EMBED_DIE_RANK it kills its own process (SIGKILL)
    once it has encoded more than EMBED_DIE_AFTER items, as a crash or an OOM kill would."""

    encoded = 0

    def forward(self, batch):
        type(self).encoded += len(batch)
        if os.environ.get("RANK") == os.environ.get("EMBED_DIE_RANK") and \\
                type(self).encoded > int(os.environ.get("EMBED_DIE_AFTER", "1000000000")):
            os.kill(os.getpid(), signal.SIGKILL)
        return super().forward(batch)


@hookimpl
def unibind_modalities(register):
    fakes.unibind_modalities(register)


@hookimpl
def unibind_encoders(register):
    register(EncoderSpec(name="counting", modality="vec", dim=fakes.DIM_OUT, default=True,
                         factory="embedfake_plugin:DyingEncoder", settings="training_fakes:CountingSettings"))
    register(EncoderSpec(name="hashing", modality="text", default=True, priority=100,
                         factory="unibind.knowledge._hashing:HashingTextEncoder",
                         settings="unibind.knowledge.testing:HashingSettings"))
'''
ITEMS = 30
TOLERANCE = 1e-6


@pytest.fixture
def env(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "embedfake_plugin.py").write_text(PLUGIN)
    dist = site / "embedfake-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: embedfake\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[unibind]\nembedfake = embedfake_plugin\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(TRAINING), os.environ.get("PYTHONPATH", "")]),
            "UNIBIND_PLUGINS": "embedfake", "OMP_NUM_THREADS": "1"}


def vec_files(folder: Path, n: int = ITEMS) -> list[Path]:
    gen = np.random.default_rng(1)
    return [fakes.write_vec(folder / f"{i:03d}.vec", gen.standard_normal(fakes.DIM_IN)) for i in range(n)]


def unibind(*args, env, cwd, torchrun: int = 0) -> subprocess.CompletedProcess:
    exe = str(Path(sys.executable).with_name("unibind"))
    command = [exe, *args]
    if torchrun:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        command = [str(Path(sys.executable).with_name("torchrun")), "--nproc_per_node", str(torchrun),
                   "--master_addr", "127.0.0.1", "--master_port", str(port), "--no-python", *command]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=300,
                          check=False)


def load(path: Path) -> tuple[torch.Tensor, list[str]]:
    import json

    with safe_open(str(path), framework="pt") as fh:
        return fh.get_tensor("embeddings"), json.loads(fh.metadata()["sources"])


def cached_rows(cache: Path) -> int:
    db = sqlite3.connect(str(cache / "feature-cache" / "features.sqlite"))
    try:
        return db.execute("SELECT COUNT(*) FROM rows").fetchone()[0]
    finally:
        db.close()


def encoded(stderr: str) -> int:
    match = re.search(r"rank 0 of 2: (\d+) item\(s\) encoded, (\d+) read from the feature cache", stderr)
    assert match, stderr[-2000:]
    return int(match[1])


@pytest.mark.slow
def test_two_ranks_embed_what_one_process_does_and_a_killed_rank_resumes_without_recomputing(tmp_path, env):
    vec_files(tmp_path / "data")
    common = ["embed", "vec", str(tmp_path / "data"), "--adapter", "linear", "--batch-size", "2"]
    single = unibind(*common, "--out", str(tmp_path / "single.safetensors"), cwd=tmp_path,
                     env={**env, "UNIBIND_CACHE_DIR": str(tmp_path / "cache-single")})
    assert single.returncode == 0, single.stderr[-3000:]

    shared = {**env, "UNIBIND_CACHE_DIR": str(tmp_path / "cache")}
    killed = unibind(*common, "--out", str(tmp_path / "ddp.safetensors"), cwd=tmp_path, torchrun=2,
                     env={**shared, "EMBED_DIE_RANK": "1", "EMBED_DIE_AFTER": "10"})
    assert killed.returncode != 0 and not (tmp_path / "ddp.safetensors").exists()
    committed = cached_rows(tmp_path / "cache")
    assert 8 <= committed < ITEMS          # rank 1 committed one shard (8 rows) before it was killed

    resumed = unibind(*common, "--out", str(tmp_path / "ddp.safetensors"), cwd=tmp_path, torchrun=2, env=shared)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert encoded(resumed.stderr) == ITEMS - committed   # nothing committed before the kill was recomputed
    ddp, ddp_sources = load(tmp_path / "ddp.safetensors")
    ref, ref_sources = load(tmp_path / "single.safetensors")
    assert ddp_sources == ref_sources and len(ref_sources) == ITEMS
    # the same rows up to float32 rounding: the ranks' encoder batches pair other items than one process's
    assert float((ddp - ref).abs().max()) <= TOLERANCE

    again = unibind(*common, "--out", str(tmp_path / "again.safetensors"), cwd=tmp_path, torchrun=2, env=shared)
    assert again.returncode == 0 and encoded(again.stderr) == 0
    assert torch.equal(load(tmp_path / "again.safetensors")[0], ddp)     # read back from the cache: bit for bit


def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


@pytest.mark.slow
def test_webdataset_shards_embed_like_the_same_files_and_a_damaged_shard_is_reported(tmp_path, env):
    files = vec_files(tmp_path / "data", 5)
    shard = tmp_path / "shard-000.tar"
    with tarfile.open(shard, "w") as tar:
        for n, path in enumerate(files):
            add(tar, f"sample{n:03d}.vec", path.read_bytes())
            add(tar, f"sample{n:03d}.txt", b"a caption, not a vec")            # same key, other modality
        add(tar, "sample999.vec", b"1 2 3")                                      # bad member: reported
    broken = tmp_path / "broken.tar"
    broken.write_bytes(shard.read_bytes()[:1000])
    run_env = {**env, "UNIBIND_CACHE_DIR": str(tmp_path / "cache")}
    by_file = unibind("embed", "vec", *map(str, files), "--adapter", "linear", "--out", str(tmp_path / "f.st"),
                      cwd=tmp_path, env=run_env)
    assert by_file.returncode == 0, by_file.stderr
    by_tar = unibind("embed", "vec", str(shard), str(broken), "--adapter", "linear", "--out",
                     str(tmp_path / "t.st"), cwd=tmp_path, env=run_env)
    assert by_tar.returncode == 1                                                # bad inputs were skipped
    assert re.search(rf"{re.escape(str(shard))}#sample999.vec: .*expected 6 numbers", by_tar.stderr)
    assert f"{broken}: unreadable WebDataset shard: ReadError: unexpected end of data" in by_tar.stderr
    tar_vectors, tar_sources = load(tmp_path / "t.st")
    assert tar_sources == [f"{shard}#sample{n:03d}.vec" for n in range(5)]
    assert torch.equal(tar_vectors, load(tmp_path / "f.st")[0])                 # same content, same rows


def test_webdataset_members_are_streamed_by_key_and_picked_by_extension(tmp_path):
    from unibind.errors import InputError
    from unibind.features.webdataset import iter_members

    shard = tmp_path / "s.tar"
    with tarfile.open(shard, "w") as tar:
        for name in ("a/x1.jpg", "a/x1.txt", "a/x2.left.jpg", "a/x2.wav", "x3.JPG"):
            add(tar, name, name.encode())
    got = [(m.key, m.ext, m.data) for m in iter_members(shard, [".jpg"])]
    assert got == [("a/x1", "jpg", b"a/x1.jpg"), ("a/x2", "left.jpg", b"a/x2.left.jpg"), ("x3", "jpg", b"x3.JPG")]
    assert [m.source for m in iter_members(shard, [".wav"])] == [f"{shard}#a/x2.wav"]
    shard.write_bytes(shard.read_bytes()[:700])
    with pytest.raises(InputError, match="unreadable WebDataset shard"):
        list(iter_members(shard, [".jpg"]))
