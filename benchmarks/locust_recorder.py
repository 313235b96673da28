"""Benchmark: requests/s of one Locust process with and without the recording plugin.

Target: the recorder costs at most 10 % of one process's throughput. The
endpoint is the trivial loopback ``GET /healthz`` of tests/loadgen/fakesvc.py
(an asyncio server in its own process), so Locust is the bottleneck. Each
configuration runs ``--rounds`` times; a third configuration runs the plugin
with ``--processes 2`` (records shipped to the master).

Run: ``python benchmarks/locust_recorder.py [--seconds 8] [--users 20] [--rounds 2]``
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FAKESVC = REPO / "tests" / "loadgen" / "fakesvc.py"

LOCUSTFILE = '''
import locust  # noqa: F401
from locust import FastHttpUser, task
{plugin}

class Ping(FastHttpUser):
    @task
    def ping(self) -> None:
        self.client.get("/healthz")
'''


def run(locustfile: Path, host: str, seconds: int, users: int, workdir: Path, processes: int = 0) -> tuple[float, int]:
    out = workdir / f"stats-{time.time_ns()}"
    rec = workdir / f"rec-{time.time_ns()}"
    cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", str(users), "-r", str(users),
           "--run-time", f"{seconds}s", "--host", host, "--json-file", str(out)]
    if "withrec" in locustfile.name:
        cmd += ["--record-dir", str(rec)]
    if processes:
        cmd += ["--processes", str(processes)]
    subprocess.run(cmd, cwd=workdir, capture_output=True, timeout=seconds + 60)
    stats = json.loads(out.with_suffix(".json").read_text())
    total = sum(int(e["num_requests"]) for e in stats)
    records = rec / "records.jsonl"
    lines = len(records.read_bytes().splitlines()) if records.exists() else 0
    return total / seconds, lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--per-record", action="store_true", help="only measure CPU per record in-process")
    args = parser.parse_args()
    if args.per_record:
        print(f"per-record cost: {per_record_cost():.1f} us CPU")
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        port_file = work / "port"
        server = subprocess.Popen([sys.executable, str(FAKESVC), "--port-file", str(port_file)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                if port_file.exists():
                    break
                time.sleep(0.05)
            host = f"http://127.0.0.1:{port_file.read_text().strip()}"
            plain = work / "plain.py"
            plain.write_text(LOCUSTFILE.format(plugin=""))
            withrec = work / "withrec.py"
            withrec.write_text(LOCUSTFILE.format(plugin="from harness.loadgen import recorder  # noqa: F401"))
            results: dict[str, list[tuple[float, int]]] = {"without plugin": [], "with plugin": [],
                                                           "with plugin, --processes 2": []}
            for _ in range(args.rounds):
                results["without plugin"].append(run(plain, host, args.seconds, args.users, work))
                results["with plugin"].append(run(withrec, host, args.seconds, args.users, work))
                results["with plugin, --processes 2"].append(
                    run(withrec, host, args.seconds, args.users, work, processes=2))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=10)
    for name, rows in results.items():
        rates = ", ".join(f"{r:.0f} req/s ({n} records)" for r, n in rows)
        print(f"{name:30s} {rates}")
    base = max(r for r, _ in results["without plugin"])
    best = max(r for r, _ in results["with plugin"])
    print(f"plugin cost (best vs best): {100 * (1 - best / base):.1f} %")




def per_record_cost(n: int = 20000) -> float:
    """Microseconds of CPU per recorded request (hook -> JSON -> os.write), measured in-process."""
    import locust  # noqa: F401  # this function runs in a fresh process via --per-record
    from locust.env import Environment

    from harness.loadgen import recorder

    with tempfile.TemporaryDirectory() as tmp:
        env = Environment()
        env.create_local_runner()
        env.parsed_options = argparse.Namespace(record_dir=tmp)
        rec = recorder.Recorder(env)
        ctx = {"scenario": "chat", "user_class": "ChatUser", "session_id": "3f0c", "turn": 2, "script": "s",
               "memory_mode": "full", "level": 0, "reason": None, "persisted": True, "verdict": "resolved"}
        t0 = time.process_time()
        for _ in range(n):
            rec.on_request("POST", "POST /chat", 1.234, 100, None, dict(ctx), None, time.time())
        cost = (time.process_time() - t0) / n * 1e6
        rec.close()
    return cost


if __name__ == "__main__":
    main()
