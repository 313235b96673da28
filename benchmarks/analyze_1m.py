"""Benchmark: analyze a run directory holding 1,000,000 load records (target: < 10 s on 2 cores).

Usage: python benchmarks/analyze_1m.py [--records 1000000] [--events 200000] [--repeat 2] [--dir DIR] [--no-table]
Writes a synthetic run (uniform UUIDv4 sessions, a DynamoDB fault window, a
breaker cycle) and times load_run + all analyzers, then write_reports.
By default every record carries user_message_sha256/reply_sha256 (as the Locust
plugin writes them) and table.jsonl holds one item per answered turn (1M items,
as after a hardened run whose outbox delivered everything), so the durability
and partitions analyzers do their full work. ``--no-table`` writes the earlier
dataset: records without hashes and an empty table.jsonl.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import orjson

from harness.analyzers import analyze_loaded, load_run
from harness.report import write_reports


def build(d: Path, n_rec: int, n_ev: int, table: bool = True) -> None:
    rng = np.random.default_rng(1)
    t0 = 1_764_262_800.0
    dur = 600.0
    (d / "records").mkdir(parents=True, exist_ok=True)
    sessions = [str(uuid.UUID(int=int(x), version=4)) for x in rng.integers(0, 2**63, 20000)]
    start = np.sort(t0 + rng.uniform(0, dur, n_rec))
    lat = rng.lognormal(np.log(0.05), 0.5, n_rec)
    fault = (start >= t0 + 200) & (start < t0 + 400)
    lat[fault] += 0.2
    sess = rng.integers(0, len(sessions), n_rec)
    modes = np.where(fault, np.where(rng.random(n_rec) < 0.8, "cache_only", "stateless"), "full")
    # turn numbers count up per session, so (session_id, turn) is a unique table key
    turn_of = np.zeros(len(sessions), dtype=np.int64)
    tfh = (d / "table.jsonl").open("wb")
    with (d / "records" / "records.jsonl").open("wb") as fh:
        for i in range(n_rec):
            m = str(modes[i])
            turn_of[sess[i]] += 1
            turn = int(turn_of[sess[i]])
            sid = sessions[sess[i]]
            rec = {
                "kind": "request", "id": f"w:{i}", "ts": float(start[i] + lat[i]), "start": float(start[i]),
                "intended_start": float(start[i]), "latency_us": int(lat[i] * 1e6), "status": 200, "error": None,
                "name": "POST /chat", "scenario": "chat", "user_class": "ChatUser",
                "session_id": sid, "turn": turn, "script": "s", "memory_mode": m,
                "level": {"full": 0, "cache_only": 1, "stateless": 2}[m], "reason": None,
                "persisted": not bool(fault[i])}
            if table:
                msg = f"What about the second one? ({i})"
                reply = f"Vinland Saga is set in medieval Scandinavia and follows Thorfinn. ({i})"
                rec["user_message_sha256"] = hashlib.sha256(msg.encode()).hexdigest()
                rec["reply_sha256"] = hashlib.sha256(reply.encode()).hexdigest()
                ts = int(start[i])
                tfh.write(orjson.dumps({"session_id": sid, "turn_number": turn, "customer_id": "anonymous",
                                        "timestamp": ts, "ttl": ts + 86400, "user_message": msg,
                                        "assistant_reply": reply, "intent": "product_question"}) + b"\n")
            rec["verdict"] = "resolved"
            rec["worker"] = "w"
            fh.write(orjson.dumps(rec) + b"\n")
    tfh.close()
    ets = np.sort(t0 + rng.uniform(0, dur, n_ev))
    with (d / "events.jsonl").open("wb") as fh:
        for i in range(n_ev):
            fh.write(orjson.dumps({"ts": float(ets[i]), "event": "memory_read", "store": "dynamodb",
                                   "session_id": sessions[i % len(sessions)], "latency_ms": 2.0, "outcome": "ok",
                                   "items": 4}) + b"\n")
        for ts, a, b in ((t0 + 201, "closed", "open"), (t0 + 231, "open", "half_open"),
                         (t0 + 401.0, "half_open", "open"), (t0 + 431, "open", "half_open"),
                         (t0 + 432, "half_open", "closed")):
            fh.write(orjson.dumps({"ts": ts, "event": "breaker_transition", "breaker": "dynamodb",
                                   "from": a, "to": b}) + b"\n")
    (d / "run.json").write_text(json.dumps({
        "run_id": d.name, "variant": "hardened", "backends": {"dynamodb": "synthetic"},
        "phases": [{"name": "baseline", "start": t0, "end": t0 + 200}, {"name": "fault", "start": t0 + 200,
                   "end": t0 + 400}, {"name": "recovery", "start": t0 + 400, "end": t0 + dur}],
        "fault": {"kind": "dynamo-latency-2s", "faults": ["dynamodb latency 2000ms"], "start": t0 + 200,
                  "end": t0 + 400, "dynamodb": {"latency_ms": 2000, "jitter_ms": 0, "toxicity": 1.0}},
        "breaker": {"threshold": 5, "window_s": 10, "open_s": 30, "timeout_ms": 200}, "alarm_period_s": 60}))
    (d / "timeline.json").write_text("[]")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--no-table", action="store_true", help="records without hashes and an empty table.jsonl")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = a.dir or Path(tmp) / "bench-run"
        t = time.perf_counter()
        build(d, a.records, a.events, table=not a.no_table)
        print(f"generated {a.records} records + {a.events} events in {time.perf_counter() - t:.1f} s "
              f"(records {(d / 'records' / 'records.jsonl').stat().st_size / 1e6:.0f} MB, "
              f"table {(d / 'table.jsonl').stat().st_size / 1e6:.0f} MB)")
        for i in range(a.repeat):
            t = time.perf_counter()
            run = load_run(d)
            t_load = time.perf_counter() - t
            v = analyze_loaded(run)
            t_an = time.perf_counter() - t - t_load
            t2 = time.perf_counter()
            write_reports(d, v)
            t_rep = time.perf_counter() - t2
            per = {n: r.status for n, r in v.results.items()}
            if i == 0:
                print("  " + ", ".join(f"{c.name}={'pass' if c.passed else 'FAIL'}" for c in v.checks
                                       if c.analyzer in ("durability", "partitions")))
            print(f"run {i + 1}: load {t_load:.2f} s, analyze {t_an:.2f} s, total {t_load + t_an:.2f} s; "
                  f"reports {t_rep:.2f} s; {per}")


if __name__ == "__main__":
    main()
