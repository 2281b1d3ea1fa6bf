"""Wall time of describe() against the simulated loopback server, by max_concurrency.

Each reply is delayed server-side (default 0.2 s, a stand-in for generation time), so
the figures show what bounded concurrency buys and that the bound holds; with
``--delay 0`` they show the client's own ceiling (HTTP, JSON, filtering):

    nice -n 10 .venv/bin/python plugins/unibind-plugin-llm-openai/benchmarks/concurrency.py
    nice -n 10 .venv/bin/python plugins/unibind-plugin-llm-openai/benchmarks/concurrency.py --delay 0
"""

from __future__ import annotations

import argparse
import itertools
import time

from unibind.knowledge.records import ClassRef, DescriptionDraft
from unibind_plugin_llm_openai.fakeserver import FakeChatServer
from unibind_plugin_llm_openai.settings import OpenAISettings
from unibind_plugin_llm_openai.source import OpenAISource


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.2, help="Seconds the server takes per reply.")
    parser.add_argument("--descriptions", type=int, default=640, help="Drafts to pull per run "
                        "(640 at 5 per request: 128 requests, two rounds at concurrency 64).")
    parser.add_argument("--per-request", type=int, default=5)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 16, 32, 64])
    args = parser.parse_args()
    print(f"server delay {args.delay} s/reply, {args.descriptions} drafts, {args.per_request} per request")
    print(f"{'max_concurrency':>15}  {'requests':>8}  {'max in flight':>13}  {'seconds':>7}  {'drafts/s':>8}")
    for concurrency in args.concurrency:
        with FakeChatServer(delay=args.delay) as server:
            settings = OpenAISettings(base_url=server.base_url, model="fake", max_concurrency=concurrency,
                                      descriptions_per_request=args.per_request)
            with OpenAISource(settings) as source:
                start = time.perf_counter()
                drafts = (i for i in source.describe(ClassRef(name="dog"), args.descriptions)
                          if isinstance(i, DescriptionDraft))
                got = len(list(itertools.islice(drafts, args.descriptions)))
                seconds = time.perf_counter() - start
            print(f"{concurrency:>15}  {len(server.chat_requests):>8}  {server.max_in_flight:>13}  "
                  f"{seconds:>7.2f}  {got / seconds:>8.1f}")


if __name__ == "__main__":
    main()
