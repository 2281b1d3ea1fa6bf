"""bf16 autocast against fp32 on the CPU: how far the embeddings move, and the time, side by side.

    nice -n 10 .venv/bin/python benchmarks/precision_cpu.py --rounds 3

One space per model; its ``precision`` is switched between rounds, alternating,
so load on a shared machine falls on both alike. Real inputs: the demo's
photos (scikit-learn's samples and Tux Paint stamps) through the default image
encoder and ImageNet bridge, and prompt texts through MiniLM. What a GPU would
show (fp16/bf16 tensor cores) cannot be measured on this machine.
"""

from __future__ import annotations

import argparse
import statistics
import time

WORDS = ["dog", "cat", "car", "tree", "house", "bird", "fish", "horse", "ship", "plane", "apple", "chair", "guitar",
         "bicycle", "clock", "flower"]


def _rounds(embed, rounds: int) -> dict[str, tuple[object, list[float]]]:
    out: dict[str, tuple[object, list[float]]] = {}
    for _ in range(rounds):
        for precision in ("fp32", "bf16"):
            start = time.perf_counter()
            vectors = embed(precision)
            seconds = time.perf_counter() - start
            out[precision] = (vectors, out.get(precision, (None, []))[1] + [seconds])
    return out


def _line(name: str, count: int, out: dict[str, tuple[object, list[float]]]) -> str:
    a, b = out["fp32"][0], out["bf16"][0]
    cosine = (a * b).sum(-1)
    fp32, bf16 = (statistics.median(out[p][1]) for p in ("fp32", "bf16"))
    return (f"{name}: {count} inputs, cosine bf16 vs fp32 min {float(cosine.min()):.4f} mean "
            f"{float(cosine.mean()):.4f}; median seconds fp32 {fp32:.2f}, bf16 {bf16:.2f} (ratio {fp32 / bf16:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from unibind.demo import quick_photos
    from unibind.space import Space

    space = Space(device="cpu")
    space.text_cache = False
    photos = [p for p, _ in quick_photos()]
    texts = [f"a photo of a {w}" for w in WORDS] * 4
    space.embed_files(photos[:1], "image", progress=False)  # models built before any timing
    space.embed_text(texts[:1])

    def images(precision: str):
        space.precision = precision
        return space.embed_files(photos, "image", progress=False).vectors

    def words(precision: str):
        space.precision = precision
        return space.embed_text(texts)

    print(_line("image (EfficientNet-Lite0 + ImageNet bridge, real photos)", len(photos), _rounds(images, args.rounds)))
    print(_line("text (all-MiniLM-L6-v2, prompts)", len(texts), _rounds(words, args.rounds)))


if __name__ == "__main__":
    main()
