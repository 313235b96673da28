"""Benchmark: per-turn CPU cost of the language layer and the stand-in composer.

Every chat turn runs understand -> retrieve -> build_prompt in the service and
compose_reply in the LLM stand-in, so their cost is added to every latency the
harness measures. This reports what that overhead is, per stage, for a
representative turn mix (recommendation, ordinal follow-up, availability) with
a 10-turn history.

Run: python benchmarks/nlu_pipeline.py [--turns 2000]
"""

from __future__ import annotations

import argparse
import statistics
import time

from harness.standins.compose import compose_reply
from reference_service.nlu import build_prompt, retrieve, understand
from reference_service.turns import Turn

MESSAGES = [
    "Recommend dark fantasy manga for beginners",
    "What about the second one?",
    "Do you have the Berserk deluxe edition?",
    "Is it available for Kindle?",
    "Any others?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=2000, help="turns to time (default 2000)")
    args = parser.parse_args()
    if args.turns <= 0:
        parser.error("--turns must be positive")
    history: list[Turn] = []
    stages: dict[str, list[float]] = {"understand": [], "retrieve": [], "build_prompt": [], "compose": []}
    totals: list[float] = []
    understand("warm up", [])  # loads the catalog and builds the index once
    for i in range(args.turns):
        message = MESSAGES[i % len(MESSAGES)]
        t0 = time.perf_counter()
        u = understand(message, history)
        t1 = time.perf_counter()
        docs = retrieve(u, k=5)
        t2 = time.perf_counter()
        prompt = build_prompt(history, u, docs)
        t3 = time.perf_counter()
        reply = compose_reply(prompt.system, prompt.messages)
        t4 = time.perf_counter()
        for name, dt in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            stages[name].append(dt * 1000)
        totals.append((t4 - t0) * 1000)
        history = [*history, Turn("s", i + 1, None, 0, message, reply, u.intent, 0)][-10:]
    print(f"turns={args.turns} history<=10 turns")
    for name, values in [*stages.items(), ("total", totals)]:
        q = statistics.quantiles(values, n=100)
        print(f"{name:>12}: p50={q[49]:.3f} ms  p99={q[98]:.3f} ms  max={max(values):.3f} ms")


if __name__ == "__main__":
    main()
