"""Service benchmark: 50 concurrent sessions against real dependencies with no faults.

Starts ``python -m harness.standins.dynamodb`` (moto-indexed; falls back to
plain moto_server if the stand-in is missing), ``redis-server``, an in-process
Messages-API stand-in answering with ``harness.standins.compose`` and the
service (``python -m reference_service``) as a child process, then drives N
turns per session from 50 concurrent asyncio clients.

Reports (from the service's own event log, so client-side noise is excluded):
- memory read latency p50/p99 per turn (target p99 < 10 ms),
- service overhead = total - memory - llm per turn, p50 (target < 5 ms),
- turns/s seen by the clients.

Usage: python benchmarks/service_bench.py [--variant hardened] [--sessions 50] [--turns 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx
import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from harness.standins.compose import compose_reply

MESSAGES = [
    "Recommend dark fantasy manga for beginners",
    "What about the second one?",
    "Do you have the Berserk deluxe edition?",
    "Is it available for Kindle?",
    "Tell me about Claymore",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def llm_app() -> Starlette:
    async def messages(request: Request) -> JSONResponse:
        body = await request.json()
        text = compose_reply(body.get("system", ""), body["messages"])
        return JSONResponse({"id": "msg_b", "type": "message", "role": "assistant", "model": body["model"],
                             "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                             "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 1}})

    return Starlette(routes=[Route("/v1/messages", messages, methods=["POST"])])


def start_llm() -> tuple[uvicorn.Server, threading.Thread, str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(llm_app(), log_level="error", access_log=False))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return server, thread, f"http://127.0.0.1:{sock.getsockname()[1]}"


def wait_line(proc: subprocess.Popen[str], needle: str, timeout: float = 30) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if needle in line:
            return line.strip()
        if proc.poll() is not None:
            break
    raise RuntimeError(f"child did not print {needle!r}")


async def drive(url: str, sessions: int, turns: int, think_s: float = 0.0) -> tuple[float, int, list[float]]:
    latencies: list[float] = []
    errors = 0

    async def one(i: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            cookie: str | None = None
            for t in range(turns):
                msg = MESSAGES[(i + t) % len(MESSAGES)]
                t0 = time.perf_counter()
                r = await client.post("/chat", json={"message": msg}, headers={"Cookie": cookie} if cookie else {})
                latencies.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    errors += 1
                if cookie is None and "set-cookie" in r.headers:
                    cookie = r.headers["set-cookie"].split(";", 1)[0]
                if think_s:
                    await asyncio.sleep(think_s)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(sessions)))
    return time.perf_counter() - t0, errors, latencies


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", default="hardened", choices=["seed", "hardened"])
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--turns", type=int, default=10)
    ap.add_argument("--think-ms", type=float, default=0.0, help="pause between a session's turns")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="svcbench-"))
    procs: list[subprocess.Popen[str]] = []
    llm_server, llm_thread, llm_url = start_llm()
    try:
        ddb = subprocess.Popen([sys.executable, "-m", "harness.standins.dynamodb", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(ddb)
        ddb_url = wait_line(ddb, "listening on").rsplit(" ", 1)[1]
        rport = free_port()
        rds = subprocess.Popen([shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(rport),
                                "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
        procs.append(rds)
        events = tmp / "events.jsonl"
        svc = subprocess.Popen(
            [sys.executable, "-m", "reference_service", "--port", "0", "--variant", args.variant,
             "--dynamodb-url", ddb_url, "--redis-url", f"redis://127.0.0.1:{rport}/0", "--llm-url", llm_url,
             "--event-log", str(events)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ},
        )
        procs.append(svc)
        url = wait_line(svc, "listening on").split("listening on ", 1)[1]
        asyncio.run(drive(url, 5, 2))  # warm-up
        warm_lines = len(events.read_text().splitlines())
        wall, errors, client_ms = asyncio.run(drive(url, args.sessions, args.turns, args.think_ms / 1000))
        time.sleep(0.3)
        rows = [json.loads(x) for x in events.read_text().splitlines()[warm_lines:]]
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
            if p.stdout:
                p.stdout.close()
        llm_server.should_exit = True
        llm_thread.join(10)
        shutil.rmtree(tmp, ignore_errors=True)

    chats = [r for r in rows if r["event"] == "chat"]
    reads = [r for r in rows if r["event"] == "memory_read"]
    by_store: dict[str, list[float]] = defaultdict(list)
    outcomes: dict[str, int] = defaultdict(int)
    for r in rows:
        if r["event"] in ("memory_read", "memory_write"):
            outcomes[f'{r["event"]}.{r["store"]}.{r["outcome"]}'] += 1
    for r in reads:
        by_store[r["store"]].append(r["latency_ms"])
    read_turn = [c["read_ms"] for c in chats if "read_ms" in c]
    modes: dict[str, int] = defaultdict(int)
    for c in chats:
        modes[c["memory_mode"]] += 1
    overhead = [c["total_ms"] - c["memory_ms"] - c["llm_ms"] for c in chats]
    memory = [c["memory_ms"] for c in chats]
    out = {
        "variant": args.variant, "sessions": args.sessions, "think_ms": args.think_ms, "turns_per_session": args.turns,
        "turns": len(chats), "errors": errors, "wall_s": round(wall, 2),
        "turns_per_s": round(len(chats) / wall, 1),
        "memory_read_ms": {s: {"n": len(v), "p50": round(pct(v, 50), 2), "p99": round(pct(v, 99), 2)}
                           for s, v in by_store.items()},
        "memory_read_per_turn_ms": {"p50": round(pct(read_turn, 50), 2), "p99": round(pct(read_turn, 99), 2)},
        "memory_modes": dict(modes),
        "op_outcomes": dict(outcomes),
        "memory_read_write_per_turn_ms": {"p50": round(pct(memory, 50), 2), "p99": round(pct(memory, 99), 2)},
        "llm_ms": {"p50": round(pct([c["llm_ms"] for c in chats], 50), 2)},
        "overhead_ms": {"p50": round(pct(overhead, 50), 2), "p99": round(pct(overhead, 99), 2)},
        "client_latency_ms": {"p50": round(pct(client_ms, 50), 1), "p99": round(pct(client_ms, 99), 1)},
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    print(json.dumps(out, indent=2))
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
