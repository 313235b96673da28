"""Synthetic run-directory generator (shapes of docs/contracts.md) for analyzer and report tests.

It simulates the hardened reference service under a DynamoDB latency fault with
a small discrete-event model -- a real 5-failures-in-window breaker, a Redis hot
path, an outbox that flushes after recovery -- and writes run.json, timeline.json,
records/records.jsonl, events.jsonl, metrics.txt and table.jsonl exactly as the
chaos runner would. Knobs inject the defects each analyzer must catch; ``wire_tap`` also writes
taps/dynamodb.jsonl (the proxy's view of every DynamoDB call, rundata.WIRE_COLUMNS).
The helpers at the end rewrite a generated run (records, run.json, wire rows)
for tests that need one specific kind of evidence.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class SynthConfig:
    seed: int = 7
    t0: float = 1_764_262_800.0
    baseline_s: float = 30.0
    fault_s: float = 40.0
    recovery_s: float = 40.0
    rps: float = 20.0
    users: int = 20
    turns_per_session: int = 6
    zipf: bool = False              # returning users pick sessions by zipf from a pool
    zipf_pool: int = 400
    zipf_s: float = 1.2
    fault_kind: str = "dynamo_latency"
    fault_value: str = "2s"
    open_s: float = 10.0
    window_s: float = 10.0
    threshold: int = 5
    timeout_ms: float = 200.0
    alarm_period_s: float = 5.0
    stateless_share_fault: float = 0.2
    # defects
    lost_turns: int = 0
    bad_ttl_turns: int = 0
    wrong_in_baseline: int = 0
    stateless_in_baseline: float = 0.0
    slow_dynamo_baseline: bool = False
    illegal_edge: bool = False
    double_probe: bool = False
    never_close: bool = False
    slow_chat_fault: bool = False
    outbox_unflushed: int = 0
    duplicate_records: int = 0
    sequential_keys: bool = False
    # evidence the real harness writes
    content_hashes: bool = True     # records carry user_message_sha256 / reply_sha256 of the stored texts
    wire_tap: bool = False          # also write taps/dynamodb.jsonl from the DynamoDB calls made
    wire_delay_s: float = 0.001     # a request reaches the proxy this long after the service decides to call


class Breaker:
    """A minimal copy of the spec'd breaker, driven by simulated time."""

    def __init__(self, cfg: SynthConfig, events: list[dict[str, Any]]) -> None:
        self.cfg = cfg
        self.state = "closed"
        self.failures: list[float] = []
        self.opened_at = 0.0
        self.events = events
        self.probe_in_flight = False

    def _go(self, t: float, to: str) -> None:
        self.events.append({"ts": t, "event": "breaker_transition", "breaker": "dynamodb",
                            "from": self.state, "to": to, "failures_in_window": len(self.failures)})
        self.state = to

    def tick(self, t: float) -> None:
        if self.state == "open" and t >= self.opened_at + self.cfg.open_s:
            self._go(self.opened_at + self.cfg.open_s, "half_open")

    def allow(self, t: float) -> str:
        """Return 'call', 'probe' or 'reject'."""
        self.tick(t)
        if self.state == "closed":
            return "call"
        if self.state == "half_open" and not self.probe_in_flight:
            self.probe_in_flight = True
            return "probe"
        return "reject"

    def result(self, t: float, ok: bool, probe: bool) -> None:
        if probe:
            self.probe_in_flight = False
            self.events.append({"ts": t, "event": "breaker_probe", "breaker": "dynamodb",
                                "outcome": "success" if ok else "failure"})
            if self.cfg.double_probe:
                self.events.append({"ts": t, "event": "breaker_probe", "breaker": "dynamodb",
                                    "outcome": "success" if ok else "failure"})
            if ok:
                self.failures = []
                self._go(t, "closed")
            else:
                self.opened_at = t
                self._go(t, "open")
            return
        if ok:
            return
        self.failures = [f for f in self.failures if f > t - self.cfg.window_s] + [t]
        # requests are simulated one after another, so a failure at a later time may already be
        # in the list: count only those that have happened by t (a real breaker cannot see ahead,
        # and the wire tap would catch one that opened early)
        if sum(f <= t for f in self.failures) >= self.cfg.threshold and self.state == "closed":
            self.opened_at = t
            self._go(t, "open")


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def generate(run_dir: Path, cfg: SynthConfig | None = None) -> Path:  # noqa: C901 - one discrete-event loop
    """Write a complete run directory under ``run_dir`` and return it."""
    cfg = cfg or SynthConfig()
    rng = random.Random(cfg.seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "records").mkdir(exist_ok=True)
    t0 = cfg.t0
    t1 = t0 + cfg.baseline_s
    t2 = t1 + cfg.fault_s
    t3 = t2 + cfg.recovery_s
    fault_latency_ms = 2000.0 if cfg.fault_value.endswith("s") and not cfg.fault_value.endswith("ms") else 0.0
    if cfg.fault_value.endswith("ms"):
        fault_latency_ms = float(cfg.fault_value[:-2])
    elif cfg.fault_value.endswith("s"):
        fault_latency_ms = float(cfg.fault_value[:-1]) * 1000.0
    events: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    table: dict[tuple[str, int], dict[str, Any]] = {}
    outbox: list[tuple[str, int, float, dict[str, Any]]] = []
    br = Breaker(cfg, events)

    pool = [_uuid(rng) for _ in range(cfg.zipf_pool)]
    if cfg.sequential_keys:
        pool = [f"sess_{i}" for i in range(cfg.zipf_pool)]
    weights = [1.0 / (k + 1) ** cfg.zipf_s for k in range(cfg.zipf_pool)]
    turns: dict[str, int] = {}
    redis_has: set[str] = set()
    user_sess: list[str] = []
    for _ in range(cfg.users):
        user_sess.append(pool[len(user_sess) % len(pool)] if cfg.sequential_keys else _uuid(rng))
    n = int((t3 - t0) * cfg.rps)
    base_wrong = cfg.wrong_in_baseline
    for i in range(n):
        t = t0 + i / cfg.rps + rng.uniform(0, 0.5 / cfg.rps)
        in_fault = t1 <= t < t2
        phase = "baseline" if t < t1 else ("fault" if in_fault else "recovery")
        u = i % cfg.users
        if cfg.zipf:
            sid = rng.choices(pool, weights)[0]
        else:
            sid = user_sess[u]
            if turns.get(sid, 0) >= cfg.turns_per_session:
                sid = pool[rng.randrange(len(pool))] if cfg.sequential_keys else _uuid(rng)
                user_sess[u] = sid
        turn = turns.get(sid, 0) + 1
        turns[sid] = turn
        # --- memory read
        decision = br.allow(t)
        ok_read = True
        if decision == "reject":
            events.append({"ts": t, "event": "memory_read", "store": "dynamodb", "session_id": sid,
                           "latency_ms": 0.0, "outcome": "circuit_open", "items": 0})
            read_ms = 0.0
            ok_read = False
            reason = "circuit_open"
        else:
            if in_fault and fault_latency_ms >= cfg.timeout_ms:
                read_ms = cfg.timeout_ms + rng.uniform(0.1, 2.0)
                ok_read = False
                events.append({"ts": t + read_ms / 1000, "event": "memory_read", "store": "dynamodb",
                               "session_id": sid, "latency_ms": read_ms, "outcome": "timeout", "items": 0})
                reason = "dynamo_timeout"
            else:
                read_ms = rng.lognormvariate(math.log(2.0), 0.35)
                if cfg.slow_dynamo_baseline and phase == "baseline":
                    read_ms = 15.0 + rng.uniform(0, 10)
                if in_fault:
                    read_ms += fault_latency_ms
                events.append({"ts": t + read_ms / 1000, "event": "memory_read", "store": "dynamodb",
                               "session_id": sid, "latency_ms": read_ms, "outcome": "ok",
                               "items": min(turn - 1, 10)})
                reason = None
            br.result(t + read_ms / 1000, ok_read, decision == "probe")
        if ok_read:
            level, mode = 0, "full"
        elif sid in redis_has and rng.random() > cfg.stateless_share_fault:
            level, mode = 1, "cache_only"
        else:
            level, mode = 2, "stateless"
        if phase == "baseline" and cfg.stateless_in_baseline and rng.random() < cfg.stateless_in_baseline:
            level, mode, reason = 2, "stateless", "dynamo_error"
        t_mem = t + read_ms / 1000
        # --- write
        persisted = False
        item = {"session_id": sid, "turn_number": turn, "customer_id": None, "timestamp": int(t),
                "user_message": f"message {turn} of {sid[:8]}", "assistant_reply": f"reply {turn}",
                "intent": "recommendation", "ttl": int(t) + 86400}
        wdec = "reject" if br.state != "closed" else "call"
        if wdec == "call" and not (in_fault and fault_latency_ms >= cfg.timeout_ms):
            w_ms = rng.lognormvariate(math.log(3.0), 0.3)
            events.append({"ts": t_mem + w_ms / 1000, "event": "memory_write", "store": "dynamodb",
                           "session_id": sid, "turn_number": turn, "latency_ms": w_ms, "outcome": "ok",
                           "bytes": 400 + 10 * turn})
            persisted = True
            table[(sid, turn)] = item
        else:
            w_ms = cfg.timeout_ms if wdec == "call" else 0.0
            events.append({"ts": t_mem + w_ms / 1000, "event": "memory_write", "store": "dynamodb",
                           "session_id": sid, "turn_number": turn, "latency_ms": w_ms,
                           "outcome": "timeout" if wdec == "call" else "circuit_open", "bytes": 0})
            if wdec == "call":
                br.result(t_mem + w_ms / 1000, False, False)
            events.append({"ts": t_mem + w_ms / 1000, "event": "outbox", "session_id": sid,
                           "turn_number": turn, "action": "queued"})
            outbox.append((sid, turn, t, item))
        redis_has.add(sid)
        llm_ms = rng.uniform(20, 60)
        total_ms = read_ms + w_ms + llm_ms + 1.0
        if cfg.slow_chat_fault and in_fault:
            total_ms += 1500.0
        end = t + total_ms / 1000
        if level > 0:
            events.append({"ts": end, "event": "degradation", "session_id": sid, "turn_number": turn,
                           "level": level, "memory_mode": mode, "reason": reason})
        events.append({"ts": end, "event": "chat", "session_id": sid, "turn_number": turn, "level": level,
                       "memory_mode": mode, "persisted": persisted, "memory_ms": read_ms,
                       "llm_ms": llm_ms, "total_ms": total_ms})
        if turn == 1:
            verdict = "unchecked"
        elif level == 0:
            verdict = "resolved"
        elif level == 1:
            verdict = "resolved" if rng.random() < 0.7 else "degraded"
        else:
            verdict = "degraded"
        if phase == "baseline" and base_wrong > 0 and turn > 1:
            verdict = "wrong"
            base_wrong -= 1
        records.append({"kind": "request", "id": f"worker-1:{i + 1}", "ts": end, "start": t,
                        "intended_start": t, "latency_us": int(total_ms * 1000), "status": 200,
                        "error": None, "name": "POST /chat", "scenario": "zipf" if cfg.zipf else "chat",
                        "user_class": "ZipfReturningUser" if cfg.zipf else "ChatUser", "session_id": sid,
                        "turn": turn, "script": "dark-fantasy-ordinal", "memory_mode": mode, "level": level,
                        "reason": reason, "persisted": persisted, "verdict": verdict, "worker": "host-1",
                        **({"user_message_sha256": _sha(item["user_message"]),
                            "reply_sha256": _sha(item["assistant_reply"])} if cfg.content_hashes else {})})
    # outbox flush after the breaker closes in recovery
    close_ts = [e["ts"] for e in events if e["event"] == "breaker_transition" and e["to"] == "closed"]
    flush_at = (close_ts[-1] if close_ts else t2) + 0.5
    for k, (sid, turn, _t, item) in enumerate(outbox):
        if k < cfg.outbox_unflushed:
            events.append({"ts": flush_at, "event": "outbox", "session_id": sid, "turn_number": turn,
                           "action": "failed"})
            continue
        events.append({"ts": flush_at, "event": "outbox", "session_id": sid, "turn_number": turn,
                       "action": "flushed"})
        table[(sid, turn)] = item
    if cfg.illegal_edge:
        events.append({"ts": t1 - 1.0, "event": "breaker_transition", "breaker": "dynamodb",
                       "from": "closed", "to": "half_open", "failures_in_window": 0})
    if cfg.never_close:
        events = [e for e in events if not (e["event"] == "breaker_transition" and e["ts"] > t2
                                            and e["to"] != "open")]
        events = [e for e in events if not (e["event"] == "breaker_probe" and e["ts"] > t2)]
        # keep the state machine legal: drop everything after the last open that followed the fault end
    ok_persisted = [r for r in records if r["persisted"]]
    for r in ok_persisted[5:5 + cfg.lost_turns]:
        table.pop((r["session_id"], r["turn"]), None)
    for r in ok_persisted[50:50 + cfg.bad_ttl_turns]:
        it = table.get((r["session_id"], r["turn"]))
        if it:
            it["ttl"] = it["timestamp"] + 3600
    for r in records[: cfg.duplicate_records]:
        records.append(dict(r))
    events.sort(key=lambda e: e["ts"])
    run = {
        "run_id": run_dir.name, "variant": "hardened", "scenario": "zipf" if cfg.zipf else "chat",
        "backends": {"dynamodb": "moto-indexed", "redis": "redis-server", "llm": "anthropic-standin",
                     "toxiproxy": "harness-toxiproxy", "service": "reference_service[hardened]"},
        "phases": [{"name": "baseline", "start": t0, "end": t1}, {"name": "fault", "start": t1, "end": t2},
                   {"name": "recovery", "start": t2, "end": t3}],
        "fault": {"kind": cfg.fault_kind, "faults": [f"dynamodb latency {cfg.fault_value}"], "start": t1, "end": t2,
                  **({"dynamodb": {"latency_ms": fault_latency_ms}} if cfg.fault_kind.startswith("dynamo") else {})},
        "breaker": {"threshold": cfg.threshold, "window_s": cfg.window_s, "open_s": cfg.open_s,
                    "timeout_ms": cfg.timeout_ms},
        "alarm_period_s": cfg.alarm_period_s,
    }
    (run_dir / "run.json").write_text(json.dumps(run, indent=1))
    timeline = [
        {"ts": t0, "phase": "baseline", "action": "phase_start", "proxy": None, "toxic": None, "detail": ""},
        {"ts": t1, "phase": "fault", "action": "apply", "proxy": "dynamodb", "toxic": "latency",
         "detail": cfg.fault_value},
        {"ts": t2, "phase": "recovery", "action": "remove", "proxy": "dynamodb", "toxic": "latency",
         "detail": ""},
    ]
    (run_dir / "timeline.json").write_text(json.dumps(timeline))
    with (run_dir / "records" / "records.jsonl").open("w") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")
    with (run_dir / "events.jsonl").open("w") as fh:
        for e in events:
            fh.write(json.dumps(e) + "\n")
    with (run_dir / "table.jsonl").open("w") as fh:
        for it in table.values():
            fh.write(json.dumps(it) + "\n")
    if cfg.wire_tap:
        (run_dir / "taps").mkdir(exist_ok=True)
        write_jsonl(run_dir / "taps" / "dynamodb.jsonl", wire_from_events(events, cfg.timeout_ms, cfg.wire_delay_s))
    (run_dir / "metrics.txt").write_text(
        "# TYPE DynamoDBCircuitOpen gauge\nDynamoDBCircuitOpen 0.0\n"
        "# TYPE StatelessModeSessions gauge\nStatelessModeSessions 12.0\n")
    return run_dir


# ---------------------------------------------------------------- wire tap
TARGETS = {"memory_read": "DynamoDB_20120810.Query", "memory_write": "DynamoDB_20120810.PutItem"}
UNANSWERED = "connection closed before response"


def wire_call(conn: int, start: float, end: float, target: str = "DynamoDB_20120810.Query",
              status: int | None = 200, proxy: str = "dynamodb") -> list[dict[str, Any]]:
    """The tap's ``request`` and ``response`` lines for one call (``status=None``: the client hung up)."""
    base = {"proxy": proxy, "conn": conn, "seq": 0, "method": "POST", "path": "/", "target": target,
            "request_ts": start}
    return [{**base, "ts": start, "event": "request", "status": None, "duration_ms": None, "error": None},
            {**base, "ts": end, "event": "response", "status": status,
             "duration_ms": round((end - start) * 1000.0, 3), "error": None if status else UNANSWERED}]


def wire_from_events(events: list[dict[str, Any]], timeout_ms: float, delay_s: float) -> list[dict[str, Any]]:
    """What the dynamodb proxy saw: one call per DynamoDB read/write the service made (not the refused ones).

    A call ends at its event's ``ts``; it started ``latency_ms`` earlier and reached the
    proxy ``delay_s`` (at most half its latency) after that. A timed-out call is one the service hung up on.
    """
    rows: list[dict[str, Any]] = []
    conn = 0
    for e in events:
        if e["event"] not in TARGETS or e.get("store") != "dynamodb" or e["outcome"] == "circuit_open":
            continue
        conn += 1
        end = float(e["ts"])
        lat_s = float(e["latency_ms"]) / 1000.0
        start = end - lat_s + min(delay_s, lat_s / 2)  # the request reaches the proxy before its answer
        rows += wire_call(conn, start, end, TARGETS[e["event"]], 200 if e["outcome"] == "ok" else None)
    rows.sort(key=lambda r: r["ts"])
    return rows


# ---------------------------------------------------------------- rewriting a generated run
def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def edit_records(run_dir: Path, fn: Callable[[list[dict[str, Any]]], list[dict[str, Any]] | None]) -> None:
    """Rewrite records/records.jsonl through ``fn`` (which may edit the list in place and return None)."""
    p = run_dir / "records" / "records.jsonl"
    recs = read_jsonl(p)
    out = fn(recs)
    write_jsonl(p, recs if out is None else out)


def edit_run_json(run_dir: Path, **fields: Any) -> dict[str, Any]:
    """Update top-level run.json fields; return the new run.json."""
    p = run_dir / "run.json"
    run = json.loads(p.read_text())
    run.update(fields)
    p.write_text(json.dumps(run, indent=1))
    return run


def phase_bounds(run_dir: Path, name: str) -> tuple[float, float]:
    run = json.loads((run_dir / "run.json").read_text())
    p = next(p for p in run["phases"] if p["name"] == name)
    return float(p["start"]), float(p["end"])


def transitions(run_dir: Path) -> list[dict[str, Any]]:
    """The breaker transitions of events.jsonl, in order."""
    return [e for e in read_jsonl(run_dir / "events.jsonl") if e["event"] == "breaker_transition"]
