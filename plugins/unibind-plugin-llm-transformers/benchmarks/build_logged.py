"""``unibind ...`` with INFO logging on, so the source logs tokens/s per batch; prints the wall time.

    python plugins/unibind-plugin-llm-transformers/benchmarks/build_logged.py kb build --kb kb.sqlite \
        --classes "T-shirt/top,Trouser" --source llm-transformers --per-class 30
"""

from __future__ import annotations

import logging
import sys
import time

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
for noisy in ("httpx", "urllib3", "filelock"):
    logging.getLogger(noisy).setLevel(logging.WARNING)

if __name__ == "__main__":
    from unibind_cli.main import main

    started = time.time()
    sys.argv[0] = "unibind"
    try:
        main()
    finally:
        print(f"wall time {time.time() - started:.0f} s", file=sys.stderr)
