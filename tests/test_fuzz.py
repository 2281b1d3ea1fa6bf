"""Fuzzing every reader: each mutated file is embedded or refused with an InputError naming it.

The default run checks a small sample (two mutated files per modality); the
slow test runs the 1,000-file corpus the README's reliability table reports,
in a subprocess, with its peak memory bound.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The fuzzer is a project tool above the core and every plugin (it writes their simulated seeds), not part of
# the core's kit: it lives beside its script.
sys.path.insert(0, str(ROOT / "scripts"))

from reader_fuzzer import CATEGORIES, MODALITIES, format_report, make_seeds, mutants, run  # noqa: E402
#: Peak memory bound of the 1,000-file run (all seven modalities' encoders loaded at once).
MAX_RSS_MB = 3000


def test_mutants_are_reproducible_and_cover_every_modality_and_category(tmp_path: Path) -> None:
    seeds = make_seeds(tmp_path / "seeds", ("text", "pointcloud"))
    assert {s.modality for s in seeds} == {"text", "pointcloud"}
    assert all(s.origin.startswith(("real:", "simulated:")) for s in seeds)
    first = [(m, c, p.read_bytes()) for m, c, p, _ in mutants(seeds, 28, tmp_path / "a", 5, ("text", "pointcloud"))]
    again = [(m, c, p.read_bytes()) for m, c, p, _ in mutants(seeds, 28, tmp_path / "b", 5, ("text", "pointcloud"))]
    assert first == again
    assert {(m, c) for m, c, _ in first} == {(m, c) for m in ("text", "pointcloud") for c in CATEGORIES}
    originals = {s.path.read_bytes() for s in seeds}
    assert sum(data not in originals for _, c, data in first if c != "wrong-extension") >= 20  # they mutate


def test_a_small_sample_is_embedded_or_rejected_naming_the_file(tmp_path: Path) -> None:
    report = run(len(MODALITIES) * 2, tmp_path, rng_seed=11)
    assert {o.modality for o in report.outcomes} == set(MODALITIES)
    assert not report.crashes, format_report(report)
    assert {o.verdict for o in report.outcomes} == {"embedded", "rejected"}


@pytest.mark.slow
def test_a_thousand_mutated_files_end_in_an_embedding_or_an_input_error(tmp_path: Path) -> None:
    """The corpus of the README's reliability table: zero other exceptions, peak memory bounded."""
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "fuzz.py"), "--n", "1000", "--seed", "0",
                           "--max-rss-mb", str(MAX_RSS_MB), "--work-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=3000)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    total = re.search(r"\| \*\*all\*\* \| \*\*(\d+)\*\* \| \*\*(\d+)\*\* \| \*\*(\d+)\*\* \| \*\*(\d+)\*\*", done.stdout)
    assert total is not None, done.stdout
    attempts, embedded, rejected, other = map(int, total.groups())
    assert attempts == 1000 and other == 0 and embedded + rejected == 1000
    peak = float(re.search(r"peak RSS (\d+) MB", done.stdout).group(1))
    assert peak <= MAX_RSS_MB


def test_a_reader_that_hangs_is_a_time_bomb_verdict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    import reader_fuzzer as fuzz

    class Hangs:
        def load(self, path):
            time.sleep(30)

    monkeypatch.setattr(fuzz, "FILE_TIMEOUT_S", 1)
    path = tmp_path / "x.bin"
    path.write_bytes(b"x")
    verdict, detail = fuzz.check_file(Hangs(), None, path)
    assert verdict == "crash" and "time bomb" in detail


def test_the_peak_memory_is_the_fuzz_run_s_own_not_its_parent_s() -> None:
    """Linux carries ru_maxrss across exec: a run started by a large parent (pytest late in the suite)
    reported the parent's 3.2 GB as its own peak and failed the bound."""
    parent = bytearray(800 * 1024 * 1024)
    parent[::4096] = b"\x01" * len(parent[::4096])                 # resident, not just reserved
    code = f"import sys; sys.path.insert(0, {str(ROOT / 'scripts')!r}); import reader_fuzzer; " \
           "print(reader_fuzzer.peak_rss_mb())"
    child = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert len(parent) and child < 400
