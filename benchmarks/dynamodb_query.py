"""Query/PutItem latency of the DynamoDB stand-in, patched (moto-indexed) vs plain moto.

Why: the design promises DynamoDB p99 < 10 ms; moto's stock Query scans and
sorts the whole table, so the harness needs proof that ``moto-indexed`` keeps
Query fast at 100k items. Each server runs as its own process (as under
``harness up``) and is driven by one boto3 client, sequentially.

    python benchmarks/dynamodb_query.py                    # full run (100k indexed, 2k/10k plain)
    python benchmarks/dynamodb_query.py --sizes 100000 --backends indexed --queries 2000
    python benchmarks/dynamodb_query.py --redis          # Redis round trips: stand-in vs stock fakeredis

The Redis figures live here too because the stand-ins share one results file
(benchmarks/results/dynamodb_query.md).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config

TABLE = "ChatSessions"
TURNS_PER_SESSION = 10


@contextmanager
def server(plain: bool) -> Iterator[str]:
    cmd = [sys.executable, "-m", "harness.standins.dynamodb", "--host", "127.0.0.1", "--port", "0"]
    if plain:
        cmd.append("--plain")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if " listening on " not in line:
            raise RuntimeError(f"stand-in did not start: {line!r}")
        yield line.split(" listening on ", 1)[1]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def client(url: str) -> Any:
    return boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="x", aws_secret_access_key="x",
                        config=Config(retries={"max_attempts": 0}, max_pool_connections=1))


def item(sid: str, turn: int) -> dict[str, Any]:
    return {"session_id": {"S": sid}, "turn_number": {"N": str(turn)},
            "timestamp": {"N": str(1764262800 + turn)}, "intent": {"S": "recommendation"},
            "user_message": {"S": "What about the second one you mentioned? " * 2},
            "assistant_reply": {"S": "The second recommendation was Vinland Saga, set in medieval "
                                     "Scandinavia, following Thorfinn on his path from revenge. " * 2},
            "ttl": {"N": str(1764262800 + 86400)}}


def load(ddb: Any, n_items: int) -> list[str]:
    ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "session_id", "AttributeType": "S"},
                                           {"AttributeName": "turn_number", "AttributeType": "N"}],
                     KeySchema=[{"AttributeName": "session_id", "KeyType": "HASH"},
                                {"AttributeName": "turn_number", "KeyType": "RANGE"}])
    sessions = [f"sess-{i:06d}" for i in range(n_items // TURNS_PER_SESSION)]
    batch: list[dict[str, Any]] = []
    for sid in sessions:
        for t in range(1, TURNS_PER_SESSION + 1):
            batch.append({"PutRequest": {"Item": item(sid, t)}})
            if len(batch) == 25:
                ddb.batch_write_item(RequestItems={TABLE: batch})
                batch = []
    if batch:
        ddb.batch_write_item(RequestItems={TABLE: batch})
    return sessions


def pct(samples: list[float], p: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def measure(plain: bool, n_items: int, n_queries: int, n_puts: int, max_seconds: float,
            scan: bool = False) -> dict[str, Any]:
    with server(plain) as url:
        ddb = client(url)
        t0 = time.perf_counter()
        sessions = load(ddb, n_items)
        load_s = time.perf_counter() - t0
        rng = random.Random(7)
        for _ in range(20):  # warm-up
            ddb.query(TableName=TABLE, KeyConditionExpression="session_id = :sid",
                      ExpressionAttributeValues={":sid": {"S": rng.choice(sessions)}},
                      ScanIndexForward=False, Limit=10)
        q: list[float] = []
        deadline = time.perf_counter() + max_seconds
        for _ in range(n_queries):
            sid = rng.choice(sessions)
            t = time.perf_counter()
            r = ddb.query(TableName=TABLE, KeyConditionExpression="session_id = :sid",
                          ExpressionAttributeValues={":sid": {"S": sid}}, ScanIndexForward=False, Limit=10)
            q.append((time.perf_counter() - t) * 1000)
            assert len(r["Items"]) == TURNS_PER_SESSION
            if time.perf_counter() > deadline:
                break
        p: list[float] = []
        for i in range(n_puts):
            t = time.perf_counter()
            ddb.put_item(TableName=TABLE, Item=item(rng.choice(sessions), 100 + i),
                         ConditionExpression="attribute_not_exists(turn_number)")
            p.append((time.perf_counter() - t) * 1000)
        scan_s, pages = float("nan"), 0
        if scan:
            t = time.perf_counter()
            kw: dict[str, Any] = {"TableName": TABLE}
            while True:
                resp = ddb.scan(**kw)
                pages += 1
                if "LastEvaluatedKey" not in resp:
                    break
                kw["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
            scan_s = time.perf_counter() - t
    return {"scan_s": scan_s, "scan_pages": pages,
            "backend": "plain moto" if plain else "moto-indexed", "items": n_items, "load_s": load_s,
            "queries": len(q), "q_p50": pct(q, 50), "q_p95": pct(q, 95), "q_p99": pct(q, 99),
            "q_max": max(q), "puts": len(p), "put_p50": pct(p, 50), "put_p99": pct(p, 99)}


def redis_round_trips(n: int) -> None:
    """p50/p99 of LPUSH+LTRIM+EXPIRE in MULTI/EXEC and of LRANGE, one redis-py client."""
    import shutil
    import socket
    import threading

    import redis
    from fakeredis import TcpFakeServer

    from harness.standins.redis import NoDelayFakeServer

    def run(url: str) -> tuple[float, float, float, float]:
        r = redis.Redis.from_url(url, socket_timeout=5)
        multi: list[float] = []
        lrange: list[float] = []
        for i in range(n):
            t = time.perf_counter()
            with r.pipeline(transaction=True) as p:
                p.lpush("session:b", f"turn {i} " * 30).ltrim("session:b", 0, 4).expire("session:b", 3600)
                p.execute()
            multi.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            r.lrange("session:b", 0, -1)
            lrange.append((time.perf_counter() - t) * 1000)
        r.close()
        return pct(multi, 50), pct(multi, 99), pct(lrange, 50), pct(lrange, 99)

    print("| redis backend | round trips | MULTI p50 ms | MULTI p99 ms | LRANGE p50 ms | LRANGE p99 ms |")
    print("|---|---|---|---|---|---|")
    with subprocess.Popen([sys.executable, "-m", "harness.standins.redis", "--port", "0"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
        assert proc.stdout is not None
        url = proc.stdout.readline().split(" listening on ", 1)[1].strip()
        res = run(url)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    print(f"| fakeredis stand-in (TCP_NODELAY, own process) | {n} | " + " | ".join(f"{v:.2f}" for v in res) + " |")
    for cls, label in ((NoDelayFakeServer, "fakeredis stand-in (in-process)"),
                       (TcpFakeServer, "stock TcpFakeServer (Nagle on, in-process)")):
        srv = cls(("127.0.0.1", 0)) if cls is TcpFakeServer else cls("127.0.0.1", 0)  # type: ignore[call-arg]
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        host, port = srv.server_address[:2]
        res = run(f"redis://{host!s}:{port}") if cls is not TcpFakeServer else run_small(run, host, port)
        srv.shutdown()
        srv.server_close()
        print(f"| {label} | {n if cls is not TcpFakeServer else 20} | "
              + " | ".join(f"{v:.2f}" for v in res) + " |")
    exe = shutil.which("redis-server")
    if exe:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            res = run(f"redis://127.0.0.1:{port}")
            proc.terminate()
            proc.wait(timeout=10)
        print(f"| redis-server | {n} | " + " | ".join(f"{v:.2f}" for v in res) + " |")


def run_small(run: Any, host: Any, port: int) -> tuple[float, float, float, float]:
    """Stock fakeredis costs ~40 ms a reply; a handful of samples is enough to show it."""
    import redis

    r = redis.Redis(host=str(host), port=port, socket_timeout=5)
    multi: list[float] = []
    lrange: list[float] = []
    for i in range(20):
        t = time.perf_counter()
        with r.pipeline(transaction=True) as p:
            p.lpush("session:b", f"turn {i}").ltrim("session:b", 0, 4).expire("session:b", 3600)
            p.execute()
        multi.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        r.lrange("session:b", 0, -1)
        lrange.append((time.perf_counter() - t) * 1000)
    r.close()
    return pct(multi, 50), pct(multi, 99), pct(lrange, 50), pct(lrange, 99)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="2000,10000,100000", help="comma-separated table sizes")
    ap.add_argument("--backends", default="indexed,plain", help="indexed,plain")
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--puts", type=int, default=500)
    ap.add_argument("--plain-max-items", type=int, default=10000,
                    help="plain moto above this size gets only --plain-big-queries samples")
    ap.add_argument("--plain-big-queries", type=int, default=10)
    ap.add_argument("--max-seconds", type=float, default=120.0, help="cap on query sampling per run")
    ap.add_argument("--scan", action="store_true", help="also time a full paginated Scan (indexed only)")
    ap.add_argument("--redis", action="store_true", help="measure Redis round trips instead")
    ap.add_argument("--redis-round-trips", type=int, default=2000)
    a = ap.parse_args(argv)
    if a.redis:
        redis_round_trips(a.redis_round_trips)
        return 0
    try:
        sizes = [int(s) for s in a.sizes.split(",")]
    except ValueError:
        ap.error("--sizes must be comma-separated integers")
    backends = [b.strip() for b in a.backends.split(",")]
    if any(b not in ("indexed", "plain") for b in backends):
        ap.error("--backends takes indexed and/or plain")
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    print("| backend | items | load s | queries | p50 ms | p95 ms | p99 ms | max ms | PutItem p50 | PutItem p99 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        for b in backends:
            plain = b == "plain"
            nq = a.queries if not plain or n <= a.plain_max_items else a.plain_big_queries
            npu = a.puts if not plain or n <= a.plain_max_items else a.plain_big_queries
            r = measure(plain, n, nq, npu, a.max_seconds, scan=a.scan and not plain)
            print(f"| {r['backend']} | {r['items']} | {r['load_s']:.1f} | {r['queries']} | {r['q_p50']:.2f} "
                  f"| {r['q_p95']:.2f} | {r['q_p99']:.2f} | {r['q_max']:.2f} | {r['put_p50']:.2f} "
                  f"| {r['put_p99']:.2f} |", flush=True)
            if r["scan_pages"]:
                print(f"|   full Scan of {n} items: {r['scan_pages']} pages in {r['scan_s']:.1f} s |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
