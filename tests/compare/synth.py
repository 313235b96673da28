"""Synthetic run directories in the contract's file shapes, for comparing without Locust.

Why synthetic: a real quick run takes ~45 s and its latencies drift with the
machine's load, so the statistics are tested on runs whose true difference is
known exactly -- an added DynamoDB delay, a lost turn, a breaker that never opens.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

T0 = 1_764_262_800.0
PHASES = (("baseline", 0.0, 6.0), ("fault", 6.0, 18.0), ("recovery", 18.0, 28.0))


@dataclass
class Spec:
    """What one synthetic run looks like; defaults are a healthy hardened quick run at 100 turns/s."""

    seed: int = 0
    rate: float = 100.0
    dynamo_extra_ms: float = 0.0  # added to every DynamoDB call (and so to every turn)
    degraded_share_fault: float = 0.0
    breaker_opens: bool = True
    lost_turns: int = 0
    alarms: tuple[str, ...] = ("circuit_open",)
    verdict_style: str = "passed"  # passed | outcome
    user_sigma: float = 0.35


def write_run(root: Path, spec: Spec, name: str | None = None) -> Path:
    """Write run.json, timeline.json, records/records.jsonl, events.jsonl and verdict.json under ``root``."""
    rng = np.random.default_rng(spec.seed)
    d = root / (name or f"run-{spec.seed:03d}")
    (d / "records").mkdir(parents=True, exist_ok=True)
    end = PHASES[-1][2]
    n = int(spec.rate * end)
    start = np.sort(rng.uniform(0.0, end, n))
    dyn = rng.lognormal(np.log(7.0), 0.3, n) + spec.dynamo_extra_ms
    red = rng.lognormal(np.log(1.0), 0.25, n)
    user = rng.lognormal(np.log(12.0), spec.user_sigma, n) + dyn + red
    in_fault = (start >= 6.0) & (start < 18.0)
    degraded = in_fault & (rng.random(n) < spec.degraded_share_fault)
    recs, events = [], []
    for i in range(n):
        t = T0 + float(start[i])
        recs.append({"kind": "request", "id": f"w:{i}", "ts": t + user[i] / 1000, "start": t, "intended_start": t,
                     "latency_us": int(user[i] * 1000), "status": 200, "error": None, "name": "POST /chat",
                     "scenario": "chat", "session_id": f"s{i % 50}", "turn": i // 50 + 1,
                     "memory_mode": "cache_only" if degraded[i] else "full", "level": int(degraded[i]),
                     "reason": None, "persisted": True, "verdict": "resolved" if i % 3 else "unchecked"})
        events.append({"ts": t + 0.001, "event": "memory_read", "store": "redis", "latency_ms": float(red[i]),
                       "outcome": "hit"})
        events.append({"ts": t + 0.002, "event": "memory_write", "store": "dynamodb", "latency_ms": float(dyn[i]),
                       "outcome": "ok"})
    if spec.breaker_opens:
        for ts, a, b in ((6.5, "closed", "open"), (9.5, "open", "half_open"), (9.6, "half_open", "closed")):
            events.append({"ts": T0 + ts, "event": "breaker_transition", "breaker": "dynamodb", "from": a, "to": b})
        events.append({"ts": T0 + 9.55, "event": "breaker_probe", "breaker": "dynamodb", "outcome": "success"})
    events.sort(key=lambda e: e["ts"])
    with (d / "records" / "records.jsonl").open("w") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in recs)
    with (d / "events.jsonl").open("w") as fh:
        fh.writelines(json.dumps(e) + "\n" for e in events)
    run = {"run_id": d.name, "variant": "hardened",
           "phases": [{"name": p, "start": T0 + a, "end": T0 + b} for p, a, b in PHASES],
           "fault": {"kind": "synthetic", "start": T0 + 6.0, "end": T0 + 18.0}}
    (d / "run.json").write_text(json.dumps(run))
    (d / "timeline.json").write_text("[]")
    (d / "verdict.json").write_text(json.dumps(_verdict(d.name, spec)))
    return d


def _verdict(run_id: str, spec: Spec) -> dict[str, object]:
    check: dict[str, object] = {"name": "durability.no_lost_turns", "analyzer": "durability",
                                "measured": spec.lost_turns, "target": "0 lost acknowledged turns"}
    alarms = {name: {"fired_at_rel": [7.0] if name in spec.alarms else [], "changes": []}
              for name in ("circuit_open", "dynamodb_latency", "stateless")}
    if spec.verdict_style == "outcome":
        check["outcome"] = "pass" if spec.lost_turns == 0 else "fail"
        check["reason"] = ""
        return {"run_id": run_id, "outcome": "pass", "checks": [check], "analyzers": {"alarms": {"alarms": alarms}}}
    check["passed"] = spec.lost_turns == 0
    return {"run_id": run_id, "passed": spec.lost_turns == 0, "checks": [check],
            "analyzers": {"alarms": {"alarms": alarms}, "durability": {"lost_count": spec.lost_turns}}}
