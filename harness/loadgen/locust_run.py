"""Running Locust headless in its own processes for one chaos run.

Locust runs as a separate process (or a master plus workers) for the whole
baseline → fault → recovery timeline, so the conversations it drives continue
across the fault; that continuity is what exposes lost memory. Nothing here
imports Locust: the harness process must not be patched by gevent.
"""

from __future__ import annotations

import ast
import functools
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from harness.stack.net import free_port
from harness.stack.procs import Spawned, spawn, stop_many


def scenarios_dir() -> Path:
    """The ``scenarios/`` directory shipped beside the package (or ``$HARNESS_SCENARIOS``)."""
    env = os.environ.get("HARNESS_SCENARIOS")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve().parents[2] / "scenarios"
    if here.is_dir():
        return here
    return (Path.cwd() / "scenarios").resolve()


@functools.cache
def _scan(directory: Path) -> dict[str, str]:
    names: dict[str, str] = {}
    for path in sorted(directory.glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        except (OSError, SyntaxError, UnicodeDecodeError):
            continue
        for node in tree.body:
            if not isinstance(node, ast.ClassDef):
                continue
            for stmt in node.body:
                if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                        and isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id == "scenario"
                        and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)):
                    names[stmt.value.value] = node.name
    return names


def scenario_classes() -> dict[str, str]:
    """Scenario name -> User class, read from each locustfile's ``scenario = "..."`` attribute.

    The locustfiles are the one source of the names; they are read as source
    (not imported) because importing a locustfile imports Locust.
    """
    return dict(_scan(scenarios_dir()))


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
        classes = scenario_classes()
        return [classes[name] for name in self.plan.scenarios]

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
