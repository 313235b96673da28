"""Running Locust headless in its own processes, and watching its records live.

Locust runs as a separate process (or a master plus workers) for the whole
baseline → fault → recovery timeline, so the conversations it drives continue
across the fault; that continuity is what exposes lost memory. The live p99 in
the progress display comes from the recording plugin's file, not from Locust's
rounded buckets.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.stack.net import free_port
from harness.stack.procs import Spawned, spawn, stop_many

SCENARIO_CLASSES = {
    "chat": "ChatUser",
    "websocket": "WebSocketRefreshUser",
    "open": "OpenArrivalUser",
    "zipf": "ZipfReturningUser",
}


def scenarios_dir() -> Path:
    """The ``scenarios/`` directory shipped beside the package (or ``$HARNESS_SCENARIOS``)."""
    env = os.environ.get("HARNESS_SCENARIOS")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve().parents[2] / "scenarios"
    if here.is_dir():
        return here
    return (Path.cwd() / "scenarios").resolve()


@dataclass
class LoadPlan:
    """What Locust should do for one chaos run."""

    host: str
    scenarios: list[str]
    users: int
    spawn_rate: float
    run_time_s: float
    record_dir: Path
    log_dir: Path
    arrival_rate: float | None = None
    workers: int = 0
    extra_args: list[str] = field(default_factory=list)


class LocustRun:
    """A running Locust (single process, or master plus N workers)."""

    def __init__(self, plan: LoadPlan) -> None:
        self.plan = plan
        self.procs: list[Spawned] = []

    def _base(self) -> list[str]:
        return [sys.executable, "-m", "locust", "-f", str(scenarios_dir())]

    def _classes(self) -> list[str]:
        return [SCENARIO_CLASSES[name] for name in self.plan.scenarios]

    def start(self) -> None:
        plan = self.plan
        plan.record_dir.mkdir(parents=True, exist_ok=True)
        env = {"HARNESS_RECORD_DIR": str(plan.record_dir), "PYTHONUNBUFFERED": "1"}
        common = [
            "--headless", "-u", str(plan.users), "-r", f"{plan.spawn_rate:g}",
            "--run-time", f"{max(1, round(plan.run_time_s))}s", "--host", plan.host,
            "--record-dir", str(plan.record_dir), "--stop-timeout", "5", "--only-summary",
            "--exit-code-on-error", "0",
        ]
        if plan.arrival_rate is not None:
            common += ["--arrival-rate", f"{plan.arrival_rate:g}"]
        common += plan.extra_args
        if plan.workers <= 0:
            argv = [*self._base(), *common, *self._classes()]
            self.procs.append(spawn(argv, plan.log_dir / "locust.log", env, die_with_parent=True))
            return
        port = free_port()
        master = [
            *self._base(), *common, "--master", "--master-bind-host", "127.0.0.1",
            "--master-bind-port", str(port), "--expect-workers", str(plan.workers),
            "--expect-workers-max-wait", "30", *self._classes(),
        ]
        self.procs.append(spawn(master, plan.log_dir / "locust-master.log", env, die_with_parent=True))
        for index in range(plan.workers):
            worker = [
                *self._base(), "--worker", "--master-host", "127.0.0.1", "--master-port", str(port),
                "--record-dir", str(plan.record_dir), *self._classes(),
            ]
            self.procs.append(spawn(worker, plan.log_dir / f"locust-worker-{index + 1}.log", env,
                                    die_with_parent=True))

    def running(self) -> bool:
        head = self.procs[0] if self.procs else None
        return bool(head and head.popen and head.popen.poll() is None)

    def stop(self) -> None:
        """Stop the master (or single process) first: it tells its workers to stop and flush
        their last records before they quit; then stop whatever workers remain."""
        if not self.procs:
            return
        head, workers = self.procs[0], self.procs[1:]
        stop_many([(head.pid, head.create_time)], timeout=10)
        stop_many([(proc.pid, proc.create_time) for proc in workers], timeout=8)


class LiveStats:
    """Incrementally tails ``records.jsonl`` for the progress display."""

    def __init__(self, path: Path, window_s: float = 5.0) -> None:
        self.path = path
        self.window_s = window_s
        self._offset = 0
        self._partial = b""
        self._recent: deque[tuple[float, int, str]] = deque()
        self.total = 0
        self.failures = 0
        self.errors = 0  # failed requests (not wrong answers): what an early abort looks at
        self.first_error: str | None = None

    def poll(self) -> None:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("kind") != "request":
                continue
            self.total += 1
            if rec.get("status") != 200 or rec.get("verdict") in ("wrong", "error"):
                self.failures += 1
            if rec.get("status") not in (200, 101) or (rec.get("error") and rec.get("verdict") != "wrong"):
                self.errors += 1
                if self.first_error is None:
                    self.first_error = str(rec.get("error") or f"HTTP {rec.get('status')}")[:120]
            self._recent.append((float(rec.get("ts", 0)), int(rec.get("latency_us", 0)),
                                 str(rec.get("memory_mode"))))
        cutoff = time.time() - self.window_s
        while self._recent and self._recent[0][0] < cutoff:
            self._recent.popleft()

    def poll_all(self) -> int:
        """Read whatever is new and return the total requests seen."""
        self.poll()
        return self.total

    def p99_ms(self) -> float | None:
        if not self._recent:
            return None
        return float(np.percentile([lat for _, lat, _ in self._recent], 99)) / 1000.0

    def rps(self) -> float:
        return len(self._recent) / self.window_s

    def modes(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, _, mode in self._recent:
            counts[mode] = counts.get(mode, 0) + 1
        return counts
