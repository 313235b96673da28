"""The chaos timeline: baseline, fault, recovery, then evidence and a verdict.

Guarantees, in order of importance:
1. every fault applied is rolled back, and a rollback that fails is reported
   loudly (stderr, ``run.json`` and a failing check in the verdict);
2. every process the run started (Locust, and the stack if it brought one up)
   is stopped, on success, Ctrl-C, SIGTERM or a crash -- one ``ExitStack`` owns
   them all, so no exit path can skip a step;
3. ``run.json`` is always written, with the run's status (completed, aborted,
   failed, interrupted) and its error, like a journal that is always finished;
4. the evidence is written to the run directory before the analyzers read it.

A target that refuses connections, or answers nothing but errors in the first
seconds of the baseline, ends the run early: a dead service must fail fast,
not be measured for a minute.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from harness.breaker_timings import DESIGN, BreakerTimings
from harness.chaos import evidence
from harness.chaos.faults import Fault
from harness.chaos.target import external_components
from harness.loadgen.live import LiveStats
from harness.loadgen.locust_run import LoadPlan, LocustRun
from harness.records import RECORDS_FILE
from harness.stack import lifecycle
from harness.stack.lifecycle import UpOptions
from harness.stack.procs import sigterm_as_interrupt
from harness.stack.stale import Registration, RunRegistry
from harness.state import Component, StackState, load_state, state_path
from harness.toxiclient import ToxiproxyClient, ToxiproxyError

# The design fixes the breaker (open 30 s), not the phases. The baseline is 40 s
# because at the default 10 users (about 10 turns/s, measured) a 20 s baseline
# held about 200 turns: under the 299 a 95 % bound on its p99 needs, so every
# default run ended inconclusive.
DESIGN_PHASES = (40.0, 60.0, 40.0)
# Quick phases and load are sized so every phase holds well over the 299
# samples a 95 % upper bound on a p99 needs (about 90 turns/s with 20 users).
QUICK_PHASES = (8.0, 14.0, 10.0)
QUICK_USERS = 20
QUICK_THINK_S = 0.2


@dataclass(frozen=True)
class Edge:
    """One change of one fault's schedule: at ``ts`` fault ``index`` goes on or off, for its window or its flap."""

    ts: float
    index: int
    on: bool
    why: str  # window | flap


class RunAborted(RuntimeError):
    """The target is dead or answers only errors: the run ends early with a fail."""


@dataclass
class ChaosOptions:
    """Everything ``harness chaos`` was asked to do."""

    faults: list[Fault]
    fault_label: str
    variant: str = "hardened"
    scenarios: list[str] = field(default_factory=lambda: ["chat"])
    users: int = 10
    arrival_rate: float | None = None
    phases: tuple[float, float, float] = DESIGN_PHASES
    breaker: BreakerTimings = DESIGN
    alarm_period_s: float = 60.0
    slo_path: Path | None = None
    report_dir: Path = Path("reports")
    target: str | None = None
    toxiproxy_url: str | None = None
    workers: int = 0
    quick: bool = False
    home: Path | None = None
    external_events: Path | None = None
    external_dynamodb: str | None = None
    seed: int = field(default_factory=lambda: random.SystemRandom().randrange(1, 2**31))
    think_time_s: float | None = None
    drain_timeout_s: float = 60.0
    abort_window_s: float = 3.0
    abort_min_requests: int = 5


@dataclass
class ChaosResult:
    """What the CLI needs to finish: where the reports are, the exit code and a one-line headline."""

    run_dir: Path
    passed: bool
    exit_code: int
    summary: str
    rollback_errors: list[str]
    headline: str = ""


def make_run_id(variant: str, label: str) -> str:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    slug = "".join(ch if ch.isalnum() else "-" for ch in label).strip("-") or "nofault"
    return f"{stamp}-{variant}-{slug}"


class ChaosRun:
    """One run; use :meth:`execute`."""

    def __init__(self, opts: ChaosOptions, console: Console) -> None:
        self.opts = opts
        self.console = console
        self.run_dir = opts.report_dir.resolve() / make_run_id(opts.variant, opts.fault_label)
        self.timeline: list[dict[str, Any]] = []
        self.applied: list[Fault] = []
        self.edges: list[Edge] = []  # every fault's schedule inside the fault phase, due first
        self.rollback_errors: list[str] = []
        self.own_stack_home: Path | None = None
        self.state: StackState | None = None
        self.locust: LocustRun | None = None
        self.phases: list[dict[str, Any]] = []
        self.fault_window: dict[str, Any] = {}
        self.locust_exit: int | None = None
        self.status = "completed"
        self.toxi_url: str | None = None
        self.service_client: Any = None
        self.error: str | None = None
        self.aborted: dict[str, Any] | None = None
        self.tapped: list[str] = []
        self.tap_note = ""
        self.evidence: dict[str, Any] = {}
        self.tag = self.run_dir.name
        self.home = opts.home or state_path().parent
        self.registry = RunRegistry(self.home)
        self.registration: Registration | None = None

    # -- stack -----------------------------------------------------------------
    def _resolve_stack(self) -> tuple[str, str | None]:
        """Return (service URL, toxiproxy URL), bringing up a private stack if needed."""
        opts = self.opts
        if opts.target:
            return opts.target, opts.toxiproxy_url
        existing = load_state(opts.home) if opts.home else load_state()
        if existing and lifecycle.running_components(existing):
            if existing.variant != opts.variant:
                raise lifecycle.StackError(
                    f"service: the running stack is the {existing.variant} variant, not {opts.variant}; "
                    "run `harness down` or pass the matching --variant"
                )
            self.state = existing
        else:
            self.own_stack_home = self.run_dir / "stack"
            up = UpOptions(
                variant=opts.variant, home=self.own_stack_home, service_port=0, toxiproxy_port=0,
                breaker=opts.breaker, die_with_parent=True,
            )
            self.state = lifecycle.up(up, self.console)
        comps = self.state.components
        return comps["service"].url, opts.toxiproxy_url or comps["toxiproxy"].url

    # -- faults ----------------------------------------------------------------
    def _mark(self, action: str, phase: str, **fields: Any) -> float:
        now = time.time()
        self.timeline.append({"ts": now, "phase": phase, "action": action, **fields})
        return now

    def _apply_one(self, client: ToxiproxyClient | None, fault: Fault) -> None:
        if client is None:
            raise ToxiproxyError("no Toxiproxy to inject faults through (use --toxiproxy URL)")
        fault.tag = self.tag
        if fault.disables_proxy and self.registration is not None and fault.proxy not in self.registration.disabled:
            # recorded before the proxy goes down, so a kill -9 in between is still undone later
            self.registration.disabled.append(fault.proxy)
            self.registry.save(self.registration)
        self.fault_window.setdefault("start", time.time())
        done = fault.apply(client)
        self.applied.append(fault)
        self._mark("apply", "fault", fault=fault.describe(), **done)

    def _in_force(self, fault: Fault) -> bool:
        # by identity: two faults of one kind with the same values are equal dataclasses, yet two toxics
        return any(f is fault for f in self.applied)

    def _remove_one(self, client: ToxiproxyClient | None, fault: Fault, phase: str) -> None:
        self.applied = [f for f in self.applied if f is not fault]
        try:
            if client is None:
                raise ToxiproxyError("no Toxiproxy client")
            done = fault.rollback(client)
            self.fault_window["end"] = self._mark("remove", phase, fault=fault.describe(), **done)
        except Exception as exc:
            message = f"ROLLBACK FAILED for {fault.describe()}: {exc}"
            self.rollback_errors.append(message)
            self._mark("rollback_failed", "recovery", fault=fault.describe(), error=str(exc))
            self.console.print(f"[bold red]{message}[/]")

    def _rollback(self, client: ToxiproxyClient | None, phase: str = "recovery") -> None:
        """Remove every fault still in force, the last applied first."""
        while self.applied:
            self._remove_one(client, self.applied[-1], phase)

    # -- main ------------------------------------------------------------------
    def execute(self) -> ChaosResult:
        """Run the timeline; every exit path rolls back, stops what it started and writes run.json."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        launched = time.time()
        self.console.print(f"seed: {self.opts.seed} (repeat with --seed {self.opts.seed})")
        try:
            with sigterm_as_interrupt(), contextlib.ExitStack() as owned:
                service_url, client = self._open(owned)
                try:
                    self._preflight(service_url)
                    self._drive(service_url, client)
                except RunAborted as exc:
                    self.status, self.aborted = "aborted", {"reason": str(exc), "requests": self._sent()}
                    self.console.print(f"[bold red]aborted: {exc}[/]")
                self._rollback(client)
                self._stop_load()
                # The tap keeps recording through the outbox drain: the breaker
                # still moves then, and the wire checks judge every episode.
                self._collect(launched)
                self._untap(client)
        except KeyboardInterrupt:
            self.status = "interrupted"
            self.console.print("[yellow]interrupted: faults rolled back, load and stack stopped[/]")
        except Exception as exc:
            self.status, self.error = "failed", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self._write_run_json(launched)
        if self.status == "interrupted":
            return ChaosResult(self.run_dir, False, 130, "interrupted", self.rollback_errors, "interrupted")
        return self._judge()

    def _open(self, owned: contextlib.ExitStack) -> tuple[str, ToxiproxyClient | None]:
        """Bring up (or find) the stack and the proxy client, each registered for teardown in reverse order."""
        lifecycle.clean_stale(self.home, self.console)
        owned.callback(self._down_own_stack)
        service_url, toxi_url = self._resolve_stack()
        self.toxi_url = toxi_url
        self.registration = self.registry.register(self.tag, toxi_url)
        owned.callback(self.registry.release, self.tag)
        client = ToxiproxyClient(toxi_url) if toxi_url else None
        if client is not None:
            owned.callback(client.close)
            owned.callback(self._untap, client)
        owned.callback(self._stop_load)
        owned.callback(self._rollback, client)
        self._bind_faults()
        self._tap(client)
        return service_url, client

    def _down_own_stack(self) -> None:
        if self.own_stack_home is not None:
            lifecycle.down(self.own_stack_home)
            self.own_stack_home = None

    def _stop_load(self) -> None:
        if self.locust is not None:
            self.locust.stop()
            head = self.locust.procs[0].popen if self.locust.procs else None
            self.locust_exit = head.returncode if head else None

    def _sent(self) -> int:
        return LiveStats(self.run_dir / "records" / RECORDS_FILE).poll_all()

    def _preflight(self, service_url: str) -> None:
        """Refuse to measure a target nothing listens on: one TCP connect before any load."""
        host, port = _host_port(service_url)
        try:
            with socket.create_connection((host, port), timeout=3.0):
                pass
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
            raise RunAborted(f"target {service_url} is not accepting connections ({why})") from None

    def _tap(self, client: ToxiproxyClient | None) -> None:
        """Ask our Toxiproxy server to log DynamoDB calls on the wire; note it when the server has no tap."""
        if client is None:
            self.tap_note = "no Toxiproxy: no wire evidence"
            return
        taps = self.run_dir / "taps"
        taps.mkdir(exist_ok=True)
        try:
            if client.start_tap("dynamodb", taps / "dynamodb.jsonl"):
                self.tapped.append("dynamodb")
                self.tap_note = "wire tap on the dynamodb proxy"
            else:
                self.tap_note = "this Toxiproxy has no tap (a real Toxiproxy): breaker checks use the service log"
        except ToxiproxyError as exc:
            self.tap_note = f"could not tap the dynamodb proxy: {exc}"
        if not self.tapped:
            self.console.print(f"[yellow]note: {self.tap_note}[/]")

    def _untap(self, client: ToxiproxyClient | None) -> None:
        while self.tapped and client is not None:
            proxy = self.tapped.pop()
            try:
                client.stop_tap(proxy)
            except ToxiproxyError as exc:
                self.console.print(f"[yellow]could not stop the tap on {proxy}: {exc}[/]")

    def _bind_faults(self) -> None:
        """Let each fault learn the stack it runs on (e.g. a stand-in's control API), before any load.

        A fault that cannot work on this stack raises here, so the run fails before it starts.
        """
        if self.state:
            components = self.state.components
        else:
            components = external_components(self.opts.external_dynamodb) if self.opts.faults else {}
            components = {**self._stack_behind_target(), **components}
        for fault in self.opts.faults:
            fault.bind(components)

    def _stack_behind_target(self) -> dict[str, Component]:
        """The dependencies of a ``--home`` stack whose Toxiproxy this ``--target`` run also uses.

        A service under test wired to our stack's proxies shares that stack's
        DynamoDB, Redis and LLM, so faults that act on a server we started (an
        emptied Redis) may act on them; any other target's dependencies stay unknown.
        """
        if not (self.opts.home and self.opts.faults and self.opts.toxiproxy_url):
            return {}
        stack = load_state(self.opts.home)
        if stack is None or "toxiproxy" not in stack.components or not lifecycle.running_components(stack):
            return {}
        if stack.components["toxiproxy"].url.rstrip("/") != self.opts.toxiproxy_url.rstrip("/"):
            return {}
        return {name: comp for name, comp in stack.components.items() if name not in ("service", "toxiproxy")}

    def _drive(self, service_url: str, client: ToxiproxyClient | None) -> None:
        opts = self.opts
        baseline, fault_s, recovery = opts.phases
        total = baseline + fault_s + recovery
        records = self.run_dir / "records"
        startup_allowance = 20.0
        plan = LoadPlan(
            host=service_url, scenarios=opts.scenarios, users=opts.users, spawn_rate=max(1.0, opts.users),
            run_time_s=total + startup_allowance, record_dir=records, log_dir=self.run_dir / "logs",
            arrival_rate=opts.arrival_rate, workers=opts.workers,
            extra_args=["--harness-seed", str(opts.seed),
                        *(["--think-time", f"{opts.think_time_s:g}"] if opts.think_time_s is not None else [])],
        )
        self.locust = LocustRun(plan)
        self.locust.start()
        stats = LiveStats(records / RECORDS_FILE)
        deadline = time.monotonic() + startup_allowance
        while stats.total == 0:
            if not self.locust.running():
                raise RuntimeError(f"locust exited before sending any request (see {self.run_dir / 'logs'})")
            if time.monotonic() > deadline:
                # Preflight connected, so the target accepts connections but answers
                # nothing: a hung service, judged (its in-flight requests count as
                # timeouts once load stops), not a harness error.
                raise RunAborted(f"the target answered no request within {startup_allowance:g} s "
                                 "(it accepts connections but does not reply)")
            time.sleep(0.1)
            stats.poll()
        t0 = self._mark("phase_start", "baseline")
        bounds = [("baseline", t0, t0 + baseline), ("fault", t0 + baseline, t0 + baseline + fault_s),
                  ("recovery", t0 + baseline + fault_s, t0 + total)]
        self.phases = [{"name": n, "start": s, "end": e} for n, s, e in bounds]
        with Live(self._panel("baseline", stats, t0, total), console=self.console, refresh_per_second=4) as live:
            current = "baseline"
            while True:
                now = time.time()
                if current == "baseline" and now >= bounds[1][1]:
                    current = "fault"
                    self._plan_faults(bounds[1][1], bounds[2][1])
                    self._schedule_step(client, bounds[1][1])
                    if not self.opts.faults:  # else fault.start is the first apply, which --at may delay
                        self.fault_window.setdefault("start", time.time())
                    self._mark("phase_start", "fault")
                if current == "fault":
                    self._schedule_step(client, bounds[1][1])
                    self._tick_faults(client, bounds[1][1], bounds[2][1])
                if current == "fault" and now >= bounds[2][1]:
                    current = "recovery"
                    self._rollback(client)
                    self.fault_window.setdefault("end", time.time())
                    self._mark("phase_start", "recovery")
                if now >= bounds[2][2]:
                    break
                if not self.locust.running():
                    raise RuntimeError(f"locust stopped early (see {self.run_dir / 'logs'})")
                if current == "baseline":
                    self._check_alive(stats, now - t0)
                live.update(self._panel(current, stats, t0, total))
                # Wake up exactly at the next boundary, so a fault starts on schedule.
                edges = [bounds[1][1], bounds[2][1], bounds[2][2], *(e.ts for e in self.edges[:1])]
                upcoming = [b for b in edges if b > time.time()]
                time.sleep(max(0.0, min([0.1, *(b - time.time() for b in upcoming)])))
        self._mark("phase_end", "recovery")
        self._stop_load()

    def _plan_faults(self, start: float, end: float) -> None:
        """Every fault's window and flap as one list of edges, and when the faults were due to start and end."""
        self.edges = sorted((Edge(ts, i, on, why) for i, fault in enumerate(self.opts.faults)
                             for ts, on, why in fault.window.edges(start, end)), key=lambda e: (e.ts, e.index))
        spans = [fault.window.bounds(start, end) for fault in self.opts.faults]
        self.fault_window["scheduled_start"] = min((a for a, _ in spans), default=start)
        self.fault_window["scheduled_end"] = max((b for _, b in spans), default=end)

    def _tick_faults(self, client: ToxiproxyClient | None, start: float, end: float) -> None:
        """Let scheduled faults (a ramp) follow the clock, each over its own window; changes go in the timeline."""
        if client is None:
            return
        for fault in list(self.applied):
            on_at, off_at = fault.window.bounds(start, end)
            progress = (time.time() - on_at) / max(off_at - on_at, 1e-9)
            changed = fault.tick(client, progress)
            if changed:
                self._mark("update", "fault", fault=fault.describe(), progress=round(progress, 4), **changed)

    def _schedule_step(self, client: ToxiproxyClient | None, phase_start: float) -> None:
        """Apply or remove each fault at its due edges, recording how late each change landed."""
        while self.edges and time.time() >= self.edges[0].ts:
            edge = self.edges.pop(0)
            fault = self.opts.faults[edge.index]
            if edge.on and not self._in_force(fault):
                self._apply_one(client, fault)
            elif not edge.on and self._in_force(fault):
                self._remove_one(client, fault, "fault")
            if edge.why == "window" and edge.ts <= phase_start + 1e-6:
                continue  # the fault phase's own start: its apply is the record
            action = f"{edge.why}_{'on' if edge.on else 'off'}"
            self._mark(action, "fault", fault=fault.describe(), scheduled_ts=edge.ts,
                       late_ms=round((time.time() - edge.ts) * 1000.0, 3))

    def _check_alive(self, stats: LiveStats, elapsed: float) -> None:
        """End the run when the first seconds of the baseline brought nothing but failed requests."""
        opts = self.opts
        if elapsed < opts.abort_window_s or stats.total < opts.abort_min_requests:
            return
        if stats.errors == stats.total:
            raise RunAborted(f"all {stats.total} requests in the first {elapsed:.1f} s of the baseline failed "
                             f"(e.g. {stats.first_error or 'no usable reply'})")

    def _panel(self, phase: str, stats: LiveStats, t0: float, total: float) -> Table:
        stats.poll()
        elapsed = max(0.0, time.time() - t0)
        p99 = stats.p99_ms()
        table = Table(title=f"harness chaos — {self.opts.variant} — {self.opts.fault_label}", show_header=False)
        table.add_row("phase", f"[bold]{phase}[/] ({elapsed:5.1f}s / {total:g}s)")
        table.add_row("load", f"{stats.rps():.1f} req/s, {stats.total} requests, {stats.failures} failed/wrong")
        table.add_row("live p99 (5 s)", "-" if p99 is None else f"{p99:.1f} ms")
        table.add_row("memory modes", ", ".join(f"{k}={v}" for k, v in sorted(stats.modes().items())) or "-")
        return table

    def _collect(self, launched: float) -> None:
        if self.state:
            comps = self.state.components
            service_url = comps["service"].url
            source = comps["service"].event_log
            events: Path | None = Path(source) if source else None
            dynamodb: str | None = comps["dynamodb"].url
        else:
            assert self.opts.target is not None
            service_url, events, dynamodb = self.opts.target, self.opts.external_events, self.opts.external_dynamodb
        if self.status == "aborted":
            drained: dict[str, Any] = {"skipped": "run aborted"}
        else:
            began = time.monotonic()
            drained = evidence.wait_outbox_drained(service_url, self.opts.drain_timeout_s)
            drained["waited_s"] = round(time.monotonic() - began, 3)
            drained["timeout_s"] = self.opts.drain_timeout_s
        raw_debug = drained.get("debug")
        debug: dict[str, Any] = raw_debug if isinstance(raw_debug, dict) else {}
        outbox = debug.get("outbox")
        # The service's SDK retry policy decides whether throttling becomes a retry storm: keep it.
        self.service_client = debug.get("dynamodb_client")
        self.timeline.append({"ts": time.time(), "phase": "recovery", "action": "outbox_check",
                              "detail": {**{k: v for k, v in drained.items() if k != "debug"},
                                         "outbox": outbox}})
        copied = evidence.copy_events(events, self.run_dir / "events.jsonl", launched)
        self.evidence["events"] = "not available" if copied is None else f"{copied} events from {events}"
        self.evidence["metrics"] = evidence.scrape_metrics(service_url, self.run_dir / "metrics.txt")
        if dynamodb:
            self.evidence["table_items"] = evidence.dump_table(dynamodb, self.run_dir / "table.jsonl")
        else:
            self.evidence["table_items"] = "no DynamoDB endpoint to scan (pass --dynamodb-url)"
        self.evidence["wire"] = self.tap_note

    def _write_run_json(self, launched: float) -> None:
        opts = self.opts
        backends = {}
        if self.state:
            backends = {name: info.backend for name, info in self.state.components.items()}
        elif opts.target:
            backends = {"service": f"external {opts.target}",
                        "toxiproxy": f"external {opts.toxiproxy_url}" if opts.toxiproxy_url else "none (no faults)"}
        run = {
            "run_id": self.run_dir.name,
            "variant": opts.variant,
            "launched_at": launched,
            "ended_at": time.time(),
            "status": self.status,
            "error": self.error,
            "aborted": self.aborted,
            "seed": opts.seed,
            "evidence": self.evidence,
            "quick": opts.quick,
            "interrupted": self.status == "interrupted",
            "scenarios": opts.scenarios,
            "users": opts.users,
            "arrival_rate": opts.arrival_rate,
            "workers": opts.workers,
            "backends": backends,
            "toxiproxy_url": self.toxi_url,
            "service_dynamodb_client": self.service_client,
            "breaker": (self.state.breaker if self.state else opts.breaker).to_json(),
            "alarm_period_s": opts.alarm_period_s,
            "phases": self.phases,
            "fault": {
                "kind": opts.fault_label,
                "faults": [f.describe() for f in opts.faults],
                "schedule": _schedule_text(opts.faults),
                "windows": [{"fault": f.describe(), "at_s": f.window.at_s, "for_s": f.window.for_s,
                             "flap": f.window.flap.describe() if f.window.flap else None} for f in opts.faults],
                "start": self.fault_window.get("start"),
                "end": self.fault_window.get("end"),
                "scheduled_start": self.fault_window.get("scheduled_start"),
                "scheduled_end": self.fault_window.get("scheduled_end"),
                **self._dynamodb_fault(),
            },
            "rollback_errors": self.rollback_errors,
            "locust_exit_code": self.locust_exit,
        }
        (self.run_dir / "run.json").write_text(json.dumps(run, indent=2) + "\n")
        (self.run_dir / "timeline.json").write_text(json.dumps(self.timeline, indent=2) + "\n")

    def _dynamodb_fault(self) -> dict[str, Any]:
        """What the DynamoDB proxy suffered, for analyzers that must know whether calls fail."""
        info: dict[str, Any] = {}
        for fault in self.opts.faults:
            if fault.proxy == "dynamodb":
                info.update(fault.effect())
        return {"dynamodb": info} if info else {}

    def _judge(self) -> ChaosResult:
        from harness.analyzers import analyze_run
        from harness.report import write_reports
        from harness.slo import load_slo

        verdict = analyze_run(self.run_dir, load_slo(self.opts.slo_path))
        paths = write_reports(self.run_dir, verdict)
        summary = Path(paths["summary"]).read_text() if "summary" in paths else ""
        code = 1 if self.rollback_errors else verdict.exit_code
        headline = verdict.headline()
        if self.aborted:
            headline = f"FAIL: {self.aborted['reason']}"
        return ChaosResult(self.run_dir, code == 0, code, summary, self.rollback_errors, headline)


def _schedule_text(faults: list[Fault]) -> str:
    """``constant``, the one schedule all faults share, or each fault's own."""
    shown = {f.window.describe() for f in faults}
    if len(shown) <= 1:
        return shown.pop() if shown else "constant"
    return "; ".join(f"{f.describe()}: {f.window.describe()}" for f in faults)


def _host_port(url: str) -> tuple[str, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 80)
