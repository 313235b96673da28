"""Benchmark the fault proxy against a direct connection, in one run.

Measures (targets from the assignment):
  * added round trip for 64-byte echoes, p50 (target <= 150 us) and p99;
  * bulk throughput on one connection (target >= 200 MB/s);
  * a 100 ms latency toxic: excess over 100 ms, mean (<= +5 ms) and p99 (<= +15 ms);
  * connect + first echo through the proxy, p50.

The echo upstream (uvloop) and the proxy (``python -m harness.toxiproxy``) run in
their own processes; the client is plain blocking sockets in this process.

Usage: python benchmarks/toxiproxy_bench.py [--rounds 5000] [--bulk-mb 256] [--latency-samples 100]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

ECHO_SERVER = r"""
import asyncio, sys, uvloop
class Echo(asyncio.Protocol):
    def connection_made(self, t): self.t = t
    def data_received(self, d): self.t.write(d)
    def eof_received(self): self.t.close()
async def main():
    srv = await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", 0)
    print(srv.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
uvloop.run(main())
"""


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[idx]


def connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(s: socket.socket, n: int) -> None:
    view = memoryview(bytearray(n))
    got = 0
    while got < n:
        k = s.recv_into(view[got:], n - got)
        if not k:
            raise ConnectionError("EOF")
        got += k


def echo_rtts(port: int, rounds: int, size: int = 64) -> list[float]:
    payload = os.urandom(size)
    out = []
    with connect(port) as s:
        for _ in range(200):  # warm-up
            s.sendall(payload)
            recv_exact(s, size)
        for _ in range(rounds):
            t0 = time.perf_counter()
            s.sendall(payload)
            recv_exact(s, size)
            out.append(time.perf_counter() - t0)
    return out


def bulk_mb_s(port: int, total: int) -> float:
    block = os.urandom(256 << 10)
    with connect(port) as s:

        def send() -> None:
            sent = 0
            while sent < total:
                s.sendall(block)
                sent += len(block)

        t0 = time.perf_counter()
        th = threading.Thread(target=send)
        th.start()
        buf = bytearray(1 << 20)
        got = 0
        n_total = (total + len(block) - 1) // len(block) * len(block)
        while got < n_total:
            k = s.recv_into(buf)
            if not k:
                raise ConnectionError("EOF")
            got += k
        th.join()
        return got / (time.perf_counter() - t0) / 1e6


def connect_first_echo(port: int, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        with connect(port) as s:
            s.sendall(b"x" * 64)
            recv_exact(s, 64)
            out.append(time.perf_counter() - t0)
    return out


def api(port: int, method: str, path: str, body: object | None = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5000)
    ap.add_argument("--bulk-mb", type=int, default=256)
    ap.add_argument("--latency-samples", type=int, default=100)
    args = ap.parse_args()

    echo = subprocess.Popen([sys.executable, "-c", ECHO_SERVER], stdout=subprocess.PIPE, text=True)
    proxy = subprocess.Popen(
        [sys.executable, "-m", "harness.toxiproxy", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert echo.stdout is not None and proxy.stdout is not None
        echo_port = int(echo.stdout.readline())
        api_port = int(proxy.stdout.readline().strip().rsplit(":", 1)[1])
        created = api(api_port, "POST", "/proxies",
                      {"name": "bench", "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{echo_port}"})
        assert isinstance(created, dict)
        proxy_port = int(created["listen"].rsplit(":", 1)[1])

        direct = echo_rtts(echo_port, args.rounds)
        through = echo_rtts(proxy_port, args.rounds)
        d50, d99 = pct(direct, 50) * 1e6, pct(direct, 99) * 1e6
        p50, p99 = pct(through, 50) * 1e6, pct(through, 99) * 1e6
        total = args.bulk_mb << 20
        bulk_direct = bulk_mb_s(echo_port, total)
        bulk_proxy = bulk_mb_s(proxy_port, total)
        conn_direct = connect_first_echo(echo_port, 300)
        conn_proxy = connect_first_echo(proxy_port, 300)

        api(api_port, "POST", "/proxies/bench/toxics", {"type": "latency", "attributes": {"latency": 100}})
        lat = echo_rtts(proxy_port, args.latency_samples)
        excess = [(x - 0.1) * 1e3 for x in lat]

        print(f"64-byte echo RTT   direct p50 {d50:7.1f} us  p99 {d99:7.1f} us")
        print(f"                   proxy  p50 {p50:7.1f} us  p99 {p99:7.1f} us")
        print(f"                   added  p50 {p50 - d50:7.1f} us  p99 {p99 - d99:7.1f} us   (target p50 <= 150 us)")
        print(f"bulk, 1 connection direct {bulk_direct:7.0f} MB/s   proxy {bulk_proxy:7.0f} MB/s   (target >= 200)")
        print(f"connect+first echo direct p50 {pct(conn_direct, 50) * 1e6:7.1f} us"
              f"   proxy p50 {pct(conn_proxy, 50) * 1e6:7.1f} us")
        print(f"100 ms latency toxic excess mean {statistics.mean(excess):+.2f} ms  p99 {pct(excess, 99):+.2f} ms"
              f"  min {min(excess):+.2f} ms   (targets +5 / +15 ms)")
    finally:
        for p in (proxy, echo):
            p.send_signal(signal.SIGTERM)
        for p in (proxy, echo):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)


if __name__ == "__main__":
    main()
