"""A seeded mutation fuzzer for every reader: each mutated file is embedded or refused naming the file.

Seeds are real files where real data is on disk (Tux Paint photo stamps,
their sound effects and description texts; scikit-learn's photographs) and
simulated elsewhere (video, point clouds, thermal frames, event streams),
always labelled as such. Each seed is mutated, reproducibly from one
integer seed, by truncation, bit flips, header edits, numbers in the header
blown up to extreme sizes, wrong extensions (another modality's file under
this one's name), splices and empty files. Every mutated file goes through
the modality's loader, its default encoder's preprocessing and the encoder
itself; the verdict is ``embedded`` (a finite vector), ``rejected`` (an
:class:`~unibind.errors.InputError` naming the file) or ``crash`` (anything
else, including an error that does not name the file or a non-finite
vector): a crash is a bug.
"""

from __future__ import annotations

import contextlib
import re
import resource
import shutil
import signal
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from unibind.errors import InputError

MODALITIES = ("image", "audio", "video", "pointcloud", "thermal", "event", "text")
#: A file with no verdict after this long is a time bomb (generous: shared, loaded CI machines).
FILE_TIMEOUT_S = 120
CATEGORIES = ("truncation", "bit-flip", "header-edit", "extreme-size", "wrong-extension", "splice", "empty")


@dataclass(frozen=True)
class Seed:
    """One valid file a modality reads, and where it came from ("real: ..." or "simulated: ...")."""

    modality: str
    path: Path
    origin: str


@dataclass
class Outcome:
    modality: str
    category: str
    path: Path
    seed: str
    verdict: str  # embedded | rejected | crash
    detail: str = ""
    seconds: float = 0.0


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    seeds: list[Seed] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    seconds: float = 0.0

    @property
    def crashes(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.verdict == "crash"]

    def table(self, key: Callable[[Outcome], str]) -> dict[str, Counter]:
        rows: dict[str, Counter] = {}
        for o in self.outcomes:
            rows.setdefault(key(o), Counter())[o.verdict] += 1
        return rows


# -- seeds ---------------------------------------------------------------------------------------------

def make_seeds(out_dir: Path, modalities: tuple[str, ...] = MODALITIES) -> list[Seed]:
    """Write (or point to) a few valid seed files per modality under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    makers = {"image": _image_seeds, "audio": _audio_seeds, "video": _video_seeds,
              "pointcloud": _pointcloud_seeds, "thermal": _thermal_seeds, "event": _event_seeds,
              "text": _text_seeds}
    seeds: list[Seed] = []
    for modality in modalities:
        folder = out_dir / modality
        folder.mkdir(exist_ok=True)
        seeds += makers[modality](folder)
    return seeds


def _stamps() -> list[Any]:
    from unibind.datasets import MissingDataError, tuxpaint_stamps

    try:
        return tuxpaint_stamps()
    except MissingDataError:
        return []


def _small(paths: list[Path], n: int) -> list[Path]:
    """The ``n`` smallest files: fast to mutate and decode, and the headers are what matters."""
    return sorted(paths, key=lambda p: (p.stat().st_size, str(p)))[:n]


def _image_seeds(folder: Path) -> list[Seed]:
    from PIL import Image

    from unibind.datasets import sklearn_photos

    stamps = _small([s.image for s in _stamps()], 2)
    seeds = [Seed("image", p, "real: Tux Paint stamp") for p in stamps]
    photo = sklearn_photos()["flower.jpg"]
    with Image.open(photo) as img:
        small = img.convert("RGB").resize((96, 64))
    for suffix in (".jpg", ".bmp", ".tif", ".webp", ".gif"):
        path = folder / f"flower{suffix}"
        small.save(path)
        seeds.append(Seed("image", path, "real: scikit-learn photo, re-encoded"))
    return seeds


def _audio_seeds(folder: Path) -> list[Seed]:
    import soundfile as sf

    sounds = _small([s.sound for s in _stamps() if s.sound is not None], 2)
    seeds = [Seed("audio", p, "real: Tux Paint sound effect") for p in sounds]
    if sounds:
        data, rate = sf.read(sounds[0], dtype="float32")
        origin = "real: Tux Paint sound effect, re-encoded"
    else:
        rate = 16_000
        t = np.arange(rate // 2) / rate
        data = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        origin = "simulated: 440 Hz tone"
    for suffix, fmt in ((".wav", "WAV"), (".flac", "FLAC")):
        path = folder / f"seed{suffix}"
        sf.write(path, data[: rate * 2], rate, format=fmt)
        seeds.append(Seed("audio", path, origin))
    return seeds


def _video_seeds(folder: Path) -> list[Seed]:
    from unibind_plugin_video.simulated import moving_picture_frames, write_video

    rng = np.random.default_rng(0)
    picture = (np.indices((24, 24)).sum(0) % 2 * 255).astype(np.uint8)  # a checkerboard
    frames = moving_picture_frames(picture, rng, frames=8, size=32)
    seeds = []
    for name in ("clip.mp4", "clip.mkv"):
        path = write_video(folder / name, frames, fps=8.0, gop=4)
        seeds.append(Seed("video", path, "simulated: a checkerboard drifting"))
    return seeds


def _pointcloud_seeds(folder: Path) -> list[Seed]:
    from unibind_plugin_pointcloud import writers
    from unibind_plugin_pointcloud.simulated import simulated_cloud, simulated_mesh

    rng = np.random.default_rng(0)
    cloud = simulated_cloud("torus", rng, points=256)
    vertices, faces = simulated_mesh("box", rng)
    paths = [writers.write_ply(folder / "cloud.ply", cloud), writers.write_ply(folder / "ascii.ply", cloud, "ascii"),
             writers.write_pcd(folder / "cloud.pcd", cloud, "binary"), writers.write_pcd(folder / "ascii.pcd", cloud,
                                                                                         "ascii"),
             writers.write_xyz(folder / "cloud.xyz", cloud), writers.write_off(folder / "mesh.off", vertices, faces)]
    return [Seed("pointcloud", p, "simulated: torus / box surface samples") for p in paths]


def _thermal_seeds(folder: Path) -> list[Seed]:
    from PIL import Image

    from unibind_plugin_thermal.simulated import simulated_counts, write_png16, write_tiff

    counts = simulated_counts("person", np.random.default_rng(0), size=(48, 64))
    grey = (counts.astype(np.float64) - counts.min()) / max(1, np.ptp(counts)) * 255
    jpg = folder / "frame.thermal.jpg"
    Image.fromarray(grey.astype(np.uint8)).save(jpg)
    paths = [write_png16(folder / "frame.thermal.png", counts), write_tiff(folder / "frame.thermal.tiff", counts), jpg]
    return [Seed("thermal", p, "simulated: thermal scene (sensor model)") for p in paths]


def _event_seeds(folder: Path) -> list[Seed]:
    from unibind_plugin_event import writers
    from unibind_plugin_event.simulate import simulated_nmnist

    streams, _ = simulated_nmnist(1, seed=0, classes=(3,))
    events = streams[0][:600]
    paths = [writers.write_npz(folder / "digit.npz", events, (34, 34)), writers.write_npy(folder / "digit.npy", events),
             writers.write_hdf5(folder / "digit.h5", events, (34, 34)), writers.write_nmnist(folder / "digit.bin", events),
             writers.write_aedat4(folder / "digit.aedat4", events, (34, 34))]
    return [Seed("event", p, "simulated: N-MNIST-style saccades over a real MNIST digit") for p in paths]


def _text_seeds(folder: Path) -> list[Seed]:
    texts = [s.image.with_suffix(".txt") for s in _stamps() if s.image.with_suffix(".txt").is_file()]
    seeds = [Seed("text", p, "real: Tux Paint stamp description") for p in _small(texts, 3)]
    if not seeds:
        path = folder / "simulated.txt"
        path.write_text("a photo of a dog.\nun chien.\n", encoding="utf-8")
        seeds.append(Seed("text", path, "simulated: two lines of text"))
    return seeds


# -- mutations -----------------------------------------------------------------------------------------

_HUGE = (0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 13_000, 65_535, 2**40)


def _truncation(data: bytes, rng: np.random.Generator) -> bytes:
    head = min(len(data), 512)
    cut = int(rng.integers(0, head)) if rng.random() < 0.6 and head else int(rng.integers(0, max(1, len(data))))
    return data[:cut]


def _bit_flip(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    if not out:
        return bytes(out)
    span = min(len(out), 256) if rng.random() < 0.5 else len(out)
    for _ in range(int(rng.integers(1, 17))):
        i = int(rng.integers(0, span))
        out[i] ^= 1 << int(rng.integers(0, 8))
    return bytes(out)


def _header_edit(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    if not out:
        return bytes(out)
    span = min(len(out), 128)
    for _ in range(int(rng.integers(1, 9))):
        out[int(rng.integers(0, span))] = int(rng.choice([0, 0xFF, int(rng.integers(0, 256))]))
    return bytes(out)


def _extreme_size(data: bytes, rng: np.random.Generator) -> bytes:
    """Blow up a number in the header: an ASCII number (PLY, PCD, OFF, .npy shape) or a binary field."""
    head = data[:1024]
    numbers = [m for m in re.finditer(rb"\d+", head)]
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in head[:256]) > 0.6 * min(len(head), 256)
    if numbers and (printable or rng.random() < 0.3):
        m = numbers[int(rng.integers(0, len(numbers)))]
        big = str(int(rng.choice([10**6, 10**9, 2**31, 10**12, 2**63]))).encode()
        return data[:m.start()] + big + data[m.end():]
    out = bytearray(data)
    if len(out) < 8:
        return bytes(out) + b"\xff" * 8
    offset = int(rng.integers(0, min(len(out), 64) - 3))
    value = int(rng.choice(_HUGE))
    width, order = int(rng.choice([4, 8])), str(rng.choice(["big", "little"]))
    raw = (value % 2**(8 * width)).to_bytes(width, order)
    out[offset:offset + width] = raw[: len(out) - offset]
    return bytes(out)


def _splice(data: bytes, rng: np.random.Generator, other: bytes) -> bytes:
    if rng.random() < 0.5:  # this file's head, another file's tail
        return data[: int(rng.integers(0, len(data) + 1))] + other[int(rng.integers(0, len(other) + 1)):]
    i = int(rng.integers(0, len(data) + 1))  # a chunk of the file repeated
    j = min(len(data), i + int(rng.integers(1, 4096)))
    return data[:j] + data[i:j] * int(rng.integers(1, 4)) + data[j:]


def _suffix(path: Path) -> str:
    """The full suffix a modality matches on (``.thermal.png``, not ``.png``)."""
    name = path.name
    return name[name.index("."):] if "." in name else ""


def mutants(seeds: list[Seed], n: int, out_dir: Path, rng_seed: int = 0,
            modalities: tuple[str, ...] = MODALITIES) -> Iterator[tuple[str, str, Path, Seed]]:
    """``n`` mutated files spread evenly over modalities, then categories, then seeds (reproducible)."""
    rng = np.random.default_rng(rng_seed)
    by_modality = {m: [s for s in seeds if s.modality == m] for m in modalities}
    by_modality = {m: s for m, s in by_modality.items() if s}
    others = [s for s in seeds]
    out_dir.mkdir(parents=True, exist_ok=True)
    names = list(by_modality)
    for k in range(n):
        # every modality in turn, each with a different category, so that even a small sample covers
        # all modalities and categories; every (modality, category) pair comes equally often
        round_ = k // len(names)
        modality = names[k % len(names)]
        category = CATEGORIES[(k % len(names) + round_) % len(CATEGORIES)]
        group = by_modality[modality]
        seed = group[(round_ // len(CATEGORIES)) % len(group)]
        data = seed.path.read_bytes()
        suffix = _suffix(seed.path)
        if category == "truncation":
            data = _truncation(data, rng)
        elif category == "bit-flip":
            data = _bit_flip(data, rng)
        elif category == "header-edit":
            data = _header_edit(data, rng)
        elif category == "extreme-size":
            data = _extreme_size(data, rng)
        elif category == "wrong-extension":
            foreign = [s for s in others if s.modality != modality]
            data = foreign[int(rng.integers(0, len(foreign)))].path.read_bytes()
        elif category == "splice":
            other = others[int(rng.integers(0, len(others)))]
            data = _splice(data, rng, other.path.read_bytes())
        elif category == "empty":
            data = b"" if rng.random() < 0.5 else data[: int(rng.integers(1, 9))]
        path = out_dir / f"{k:05d}-{modality}-{category}{suffix}"
        path.write_bytes(data)
        yield modality, category, path, seed


# -- running -------------------------------------------------------------------------------------------

class Pipelines:
    """Each modality's loader and default encoder, built once."""

    def __init__(self) -> None:
        from unibind.plugins import get_registry

        self.registry = get_registry()
        self._built: dict[str, tuple[Any, Any]] = {}

    def __getitem__(self, modality: str) -> tuple[Any, Any]:
        if modality not in self._built:
            loader = self.registry.get("modality", modality).build()
            encoder = self.registry.default("encoder", modality).build()
            encoder.eval()
            self._built[modality] = (loader, encoder)
        return self._built[modality]


def check_file(loader: Any, encoder: Any, path: Path, encode: bool = True) -> tuple[str, str]:
    """``(verdict, detail)`` for one file: embedded, rejected (InputError naming it) or crash.

    ``encode=False`` stops after the encoder's preprocessing (verdict
    ``preprocessed``: a finite network input), for quick runs on slow machines.
    """
    import torch

    try:
        with time_limit(FILE_TIMEOUT_S):
            return _check(loader, encoder, path, encode)
    except FileTimeout:
        return "crash", f"time bomb: no verdict after {FILE_TIMEOUT_S} s"


class FileTimeout(BaseException):
    """Raised by :func:`time_limit` (a BaseException, so readers' ``except Exception`` cannot swallow it)."""


@contextlib.contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (SIGALRM; main thread on Unix, else no limit)."""
    if not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise FileTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _check(loader: Any, encoder: Any, path: Path, encode: bool) -> tuple[str, str]:
    import torch

    try:
        sample = loader.load(path)
        tensor = encoder.preprocess(sample)
        if not encode:
            finite = all(bool(torch.isfinite(t).all()) for t in _tensors(tensor))
            return ("preprocessed", "") if finite else ("crash", "the encoder input is not finite")
        with torch.inference_mode():
            vector = encoder(encoder.collate([tensor]))
    except InputError as exc:
        if path.name not in str(exc):
            return "crash", f"InputError without the file's name: {exc}"
        return "rejected", exc.problem
    except (KeyboardInterrupt, SystemExit, FileTimeout):
        raise
    except BaseException as exc:  # noqa: BLE001 - what the fuzzer is looking for (Rust panics included)
        frames = traceback.extract_tb(exc.__traceback__)
        where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
        return "crash", f"{type(exc).__name__} at {where}: {exc}"
    if not bool(torch.isfinite(vector).all()):
        return "crash", "the embedding is not finite"
    return "embedded", ""


def _tensors(value: Any) -> list[Any]:
    """The tensors inside a preprocessed sample (a tensor, or a tuple / list / dict of them)."""
    import torch

    if isinstance(value, torch.Tensor):
        return [value] if value.is_floating_point() else []
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    return []


def peak_rss_mb() -> float:
    """This process's own peak resident memory (MB): VmHWM of its address space.

    Not ``getrusage``'s ru_maxrss: Linux carries that across exec, so a fuzz run started by a large
    parent (pytest late in the suite: 3.2 GB) reported the parent's peak as its own."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(n: int, work_dir: Path, *, rng_seed: int = 0, modalities: tuple[str, ...] = MODALITIES,
        keep: bool = False, progress: bool = False, encode: bool = True) -> Report:
    """Mutate ``n`` files from fresh seeds under ``work_dir`` and check every one."""
    import torch

    from unibind.progress import track

    torch.manual_seed(rng_seed)
    start = time.perf_counter()
    seeds = make_seeds(work_dir / "seeds", modalities)
    pipelines = Pipelines()
    report = Report(seeds=seeds)
    mutated = mutants(seeds, n, work_dir / "mutants", rng_seed, modalities)
    for modality, category, path, seed in track(mutated, total=n, description="fuzzing readers", enabled=progress):
        loader, encoder = pipelines[modality]
        began = time.perf_counter()
        verdict, detail = check_file(loader, encoder, path, encode)
        report.outcomes.append(Outcome(modality, category, path, seed.path.name, verdict, detail,
                                       time.perf_counter() - began))
        if verdict != "crash" and not keep:
            path.unlink()
    report.peak_rss_mb = peak_rss_mb()
    report.seconds = time.perf_counter() - start
    if not keep and not report.crashes:
        shutil.rmtree(work_dir / "mutants", ignore_errors=True)
    return report


def format_report(report: Report, command: str = "") -> str:
    """Tables by modality and by category: attempts and verdicts; then every crash."""
    lines = []
    for title, key in (("modality", lambda o: o.modality), ("category", lambda o: o.category)):
        table = report.table(key)
        done = "preprocessed (not encoded)" if any(o.verdict == "preprocessed" for o in report.outcomes) \
            else "embedded"
        lines.append(f"| {title} | attempts | {done} | rejected (InputError naming the file) | other error "
                     "| slowest file |")
        lines.append("|---|---:|---:|---:|---:|---:|")
        for name, counts in table.items():
            slowest = max(o.seconds for o in report.outcomes if key(o) == name)
            lines.append(f"| {name} | {sum(counts.values())} | {counts['embedded'] + counts['preprocessed']} | "
                         f"{counts['rejected']} | "
                         f"{counts['crash']} | {slowest:.1f} s |")
        total = Counter(o.verdict for o in report.outcomes)
        lines.append(f"| **all** | **{len(report.outcomes)}** | **{total['embedded'] + total['preprocessed']}** | "
                     f"**{total['rejected']}** "
                     f"| **{total['crash']}** | |")
        lines.append("")
    slowest = max(report.outcomes, key=lambda o: o.seconds, default=None)
    lines.append(f"seeds: {len(report.seeds)} ({', '.join(sorted({s.origin for s in report.seeds}))})")
    if slowest is not None:
        lines.append(f"slowest file: {slowest.seconds:.2f} s ({slowest.path.name}, {slowest.verdict})")
    lines.append(f"peak RSS {report.peak_rss_mb:.0f} MB; {report.seconds:.0f} s in all" +
                 (f"; rerun: {command}" if command else ""))
    for o in report.crashes:
        lines.append(f"CRASH {o.path} (from {o.seed}): {o.detail}")
    return "\n".join(lines)

