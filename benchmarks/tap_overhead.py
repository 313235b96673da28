"""Requests/s through one proxy untapped vs tapped (``/harness/taps`` with ``"http": true``), in one run.

Why: the wire tap is the evidence the service cannot fake, so it must not slow
the DynamoDB calls it watches enough to change what a run measures. Upstream,
proxy and client run in separate processes on the same cores, and untapped /
tapped phases alternate on the same keep-alive connections, so only the
tapped ÷ untapped ratio within one run means anything. The closed loop keeps
the proxy CPU-bound: the ratio is the worst case, the tap's per-request cost
against a proxy that otherwise only forwards. Results and how to read them:
``benchmarks/results/tap_overhead.txt``.

Usage: python benchmarks/tap_overhead.py [--phase-s 1.25] [--pairs 4] [--conns 8] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import uvloop

BODY = json.dumps({"TableName": "ChatSessions", "KeyConditionExpression": "session_id = :s",
                   "ExpressionAttributeValues": {":s": {"S": "3f0c2a9e-7d4b-4c1e-9a53-0b6f3e2d1c7a"}},
                   "ScanIndexForward": False, "Limit": 10}).encode()
REQUEST = (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: DynamoDB_20120810.Query\r\n"
           b"Content-Type: application/x-amz-json-1.0\r\nContent-Length: " + str(len(BODY)).encode()
           + b"\r\n\r\n" + BODY)
REPLY_BODY = b'{"Count":1,"Items":[{"session_id":{"S":"3f0c"},"turn_number":{"N":"1"}}],"ScannedCount":1}'
REPLY = (b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nx-amzn-RequestId: bench\r\n"
         b"Content-Length: " + str(len(REPLY_BODY)).encode() + b"\r\n\r\n" + REPLY_BODY)

UPSTREAM = r"""
import asyncio, sys, uvloop
REPLY = __REPLY__
class Http(asyncio.Protocol):
    def connection_made(self, t):
        self.t, self.buf = t, b""
    def data_received(self, d):
        self.buf += d
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].lower()
            i = head.find(b"content-length:")
            n = int(head[i + 15:].split(b"\r\n", 1)[0]) if i >= 0 else 0
            if len(self.buf) < end + 4 + n:
                return
            self.buf = self.buf[end + 4 + n:]
            self.t.write(REPLY)
async def main():
    srv = await asyncio.get_running_loop().create_server(Http, "127.0.0.1", 0)
    print(srv.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
uvloop.run(main())
""".replace("__REPLY__", repr(REPLY))


def api(port: int, method: str, path: str, body: object | None = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


class Load:
    """``conns`` closed-loop clients; ``count`` is the number of completed requests so far."""

    def __init__(self, port: int, conns: int) -> None:
        self.port = port
        self.conns = conns
        self.count = 0
        self.stop = False

    async def client(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        n = len(REPLY)
        while not self.stop:
            writer.write(REQUEST)
            got = await reader.readexactly(n)
            if got != REPLY:
                raise RuntimeError(f"unexpected reply: {got[:60]!r}")
            self.count += 1
        writer.close()


async def measure(args: argparse.Namespace, api_port: int, proxy_port: int, tap_file: Path) -> list[tuple[str, float]]:
    load = Load(proxy_port, args.conns)
    tasks = [asyncio.create_task(load.client()) for _ in range(args.conns)]
    await asyncio.sleep(0.5)  # warm-up
    phases: list[tuple[str, float]] = []
    loop = asyncio.get_running_loop()
    for _ in range(args.pairs):
        for tapped in (False, True):
            if tapped:
                await loop.run_in_executor(None, api, api_port, "POST", "/harness/taps",
                                           {"proxy": "dynamodb", "path": str(tap_file), "http": True})
            start_n, t0 = load.count, time.perf_counter()
            await asyncio.sleep(args.phase_s)
            rate = (load.count - start_n) / (time.perf_counter() - t0)
            if tapped:
                await loop.run_in_executor(None, api, api_port, "DELETE", "/harness/taps/dynamodb")
            phases.append(("tapped" if tapped else "untapped", rate))
    load.stop = True
    await asyncio.gather(*tasks, return_exceptions=True)
    return phases


def parser_cost_us(rounds: int = 20000) -> float:
    """CPU per request+response pair inside the tap (best of 3), without sockets."""
    from harness.toxiproxy.tap import Tap, TapWriter

    async def run(path: Path) -> float:
        tap = Tap("bench", path, True, TapWriter(path))
        conn = tap.open_connection()
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(rounds):
                conn.sent(REQUEST)
                conn.received(REPLY)
            best = min(best, (time.perf_counter() - t0) / rounds * 1e6)
        tap.close()
        return best

    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(run(Path(tmp) / "parser.jsonl"))


def report(args: argparse.Namespace, phases: list[tuple[str, float]], lines: list[dict[str, object]],
           load_before: tuple[float, float, float], parser_us: float) -> str:
    untapped = [r for k, r in phases if k == "untapped"]
    tapped = [r for k, r in phases if k == "tapped"]
    pairs = [t / u for u, t in zip(untapped, tapped, strict=True)]
    responses = [ln for ln in lines if ln["event"] == "response"]
    ok = sum(1 for ln in responses if ln["status"] == 200 and ln["target"] == "DynamoDB_20120810.Query")
    out = [
        "Tap overhead: requests/s through one proxy, untapped vs tapped (http: true), same run",
        f"command: python benchmarks/tap_overhead.py --phase-s {args.phase_s} --pairs {args.pairs} "
        f"--conns {args.conns}",
        f"date: {time.strftime('%Y-%m-%d %H:%M:%S')}  cpus: {os.cpu_count()}  python: {sys.version.split()[0]}  "
        f"load average before: {' '.join(f'{x:.2f}' for x in load_before)}",
        f"request {len(REQUEST)} B (POST /, X-Amz-Target Query), reply {len(REPLY)} B, "
        f"{args.conns} keep-alive connections, closed loop",
        "",
        "phase       req/s",
    ]
    out += [f"{kind:<10} {rate:8.0f}" for kind, rate in phases]
    out += [
        "",
        f"untapped mean {statistics.mean(untapped):.0f} req/s, tapped mean {statistics.mean(tapped):.0f} req/s",
        f"ratio tapped/untapped: overall {statistics.mean(tapped) / statistics.mean(untapped):.3f}; "
        f"per pair {', '.join(f'{p:.3f}' for p in pairs)} (median {statistics.median(pairs):.3f})",
        f"tap file: {len(lines)} lines, {len(responses)} responses ({ok} status 200 with the Query target)",
        f"tap CPU per request+response, in-process, best of 3: {parser_us:.1f} us",
    ]
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phase-s", type=float, default=1.25)
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--conns", type=int, default=8)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    load_before = os.getloadavg()
    up = subprocess.Popen([sys.executable, "-c", UPSTREAM], stdout=subprocess.PIPE, text=True)
    proxy = subprocess.Popen([sys.executable, "-m", "harness.toxiproxy", "--host", "127.0.0.1", "--port", "0"],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert up.stdout is not None and proxy.stdout is not None
        up_port = int(up.stdout.readline())
        api_port = int(proxy.stdout.readline().strip().rsplit(":", 1)[1])
        created = api(api_port, "POST", "/proxies",
                      {"name": "dynamodb", "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{up_port}"})
        assert isinstance(created, dict)
        proxy_port = int(str(created["listen"]).rsplit(":", 1)[1])
        with tempfile.TemporaryDirectory() as tmp:
            tap_file = Path(tmp) / "dynamodb.jsonl"
            phases = uvloop.run(measure(args, api_port, proxy_port, tap_file))
            lines = [json.loads(line) for line in tap_file.read_text().splitlines()]
    finally:
        for p in (proxy, up):
            p.terminate()
            p.wait(10)
    text = report(args, phases, lines, load_before, parser_cost_us())
    print(text, end="")
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
