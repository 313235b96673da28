"""The service on the embedded stack under 50 concurrent Locust sessions, no faults, against its latency targets.

Unlike ``service_bench.py`` (one driver process holding the client and the LLM
stand-in), this runs the stack exactly as ``harness up`` does — every
dependency in its own process behind the proxy — and drives it with
``locust -f scenarios/ ChatUser``. Figures come from the service's own event
log: memory read latency (target p99 < 10 ms), service overhead = total −
memory − LLM (target p50 < 5 ms), and turns/s.

    python benchmarks/service_under_locust.py [--users 50] [--think 1.0] [--seconds 30] [--variant hardened]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--think", type=float, default=1.0)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--variant", default="hardened")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "stack"
        harness = [sys.executable, "-m", "harness"]
        up = subprocess.run([*harness, "up", "--home", str(home), "--service-port", "0", "--toxiproxy-port", "0",
                             "--variant", args.variant, "--json"], capture_output=True, text=True, timeout=120)
        if up.returncode != 0:
            print(up.stderr)
            return 1
        state = json.loads(up.stdout)
        try:
            subprocess.run(
                [sys.executable, "-m", "locust", "-f", str(REPO / "scenarios"), "--headless", "-u", str(args.users),
                 "-r", str(args.users), "--run-time", f"{args.seconds}s", "--think-time", str(args.think),
                 "--host", state["components"]["service"]["url"], "--record-dir", str(Path(tmp) / "rec"),
                 "ChatUser"], capture_output=True, text=True, timeout=args.seconds + 90,
            )
        finally:
            subprocess.run([*harness, "down", "--home", str(home)], capture_output=True, timeout=60)
        events = [json.loads(line) for line in (home / "events.jsonl").read_text().splitlines()]
        records = [json.loads(line) for line in (Path(tmp) / "rec" / "records.jsonl").read_text().splitlines()]
    backends = {name: info["backend"] for name, info in state["components"].items()}

    def pct(values: list[float]) -> str:
        return f"p50 {np.percentile(values, 50):.2f} ms, p99 {np.percentile(values, 99):.2f} ms (n={len(values)})"

    reads = [e["latency_ms"] for e in events if e.get("event") == "memory_read"]
    by_store = {
        store: [e["latency_ms"] for e in events if e.get("event") == "memory_read" and e.get("store") == store]
        for store in ("redis", "dynamodb")
    }
    chats = [e for e in events if e.get("event") == "chat"]
    overhead = [c["total_ms"] - c["memory_ms"] - c["llm_ms"] for c in chats]
    client = [r["latency_us"] / 1000 for r in records if r.get("kind") == "request"]
    print(f"backends: {backends}")
    print(f"users {args.users}, think {args.think} s, {args.seconds} s, variant {args.variant}")
    print(f"turns/s: {len(chats) / args.seconds:.1f}")
    print(f"memory read (all stores): {pct(reads)}")
    for store, values in by_store.items():
        if values:
            print(f"  {store}: {pct(values)}")
    print(f"service overhead (total - memory - llm): {pct(overhead)}")
    print(f"client latency: {pct(client)}")
    print(f"modes: { {m: sum(1 for c in chats if c['memory_mode'] == m) for m in {c['memory_mode'] for c in chats}} }")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
