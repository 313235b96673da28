"""``harness up``, ``status`` and ``down``: compose the components into a stack.

``up`` is all-or-nothing: if any component fails to start, or the user presses
Ctrl-C, or SIGTERM arrives, everything already started is stopped before the
error is reported, so a failed ``up`` never leaves a half stack behind.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from harness.breaker_timings import DESIGN, BreakerTimings
from harness.stack import components as comp
from harness.stack.net import port_in_use
from harness.stack.procs import (
    ComponentError,
    Spawned,
    is_alive,
    sigterm_as_interrupt,
    spawn,
    stop_many,
    wait_ready,
)
from harness.stack.stale import RunRegistry
from harness.state import Component, StackState, clear_state, load_state, save_state, variant_problem
from harness.toxiclient import ToxiproxyClient, ToxiproxyError

PROXIED = ("dynamodb", "redis", "llm")


@dataclass
class UpOptions:
    """Everything ``harness up`` can be told."""

    variant: str = "hardened"
    home: Path = field(default_factory=lambda: Path(".harness").resolve())
    service_port: int = 8000
    toxiproxy_port: int = 8474
    dynamodb_url: str | None = None
    redis_url: str | None = None
    llm_url: str | None = None
    toxiproxy_url: str | None = None
    real_llm: bool = False
    breaker: BreakerTimings = DESIGN
    die_with_parent: bool = False  # a chaos run's private stack; `harness up` leaves it False


class StackError(RuntimeError):
    """A stack-level problem (already running, nothing to stop) with a one-line message."""


class OptionError(StackError):
    """An :class:`UpOptions` value no stack can run with: the caller's mistake (exit 2 on the command line)."""


def running_components(state: StackState) -> list[str]:
    """Names of the components in ``state`` whose process is still alive."""
    return [name for name, info in state.components.items()
            if info.pid and is_alive(info.pid, info.create_time)]


def _check_port(component: str, port: int, flag: str) -> None:
    if port and port_in_use("127.0.0.1", port):
        raise ComponentError(component, f"port 127.0.0.1:{port} is already in use (choose another with {flag})")


def clean_stale(home: Path, console: Console | None = None) -> list[str]:
    """Remove toxics and disabled proxies left by chaos runs that died, saying what was removed."""
    removed = RunRegistry(home).clean()
    for line in removed:
        (console or Console(stderr=True)).print(f"[yellow]removed stale {line}[/]")
    return removed


def up(opts: UpOptions, console: Console | None = None) -> StackState:
    """Start the stack and write the state file; return the state."""
    if (problem := variant_problem(opts.variant)) is not None:
        # The one check of the variant for `harness up` and every Python caller; `harness
        # chaos` also checks it in its flags, so a typo fails before its run directory exists.
        raise OptionError(problem)
    console = console or Console(stderr=True)
    home = opts.home
    clean_stale(home, console)
    existing = load_state(home)
    if existing:
        alive = running_components(existing)
        if alive:
            raise StackError(
                f"stack: already running in {home} ({', '.join(alive)} alive); run `harness down` first"
            )
        clear_state(home)

    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for stale in ("events.jsonl", "outbox.jsonl"):
        (home / stale).unlink(missing_ok=True)

    makers: dict[str, Callable[[int], comp.Plan]] = {
        "dynamodb": lambda port: comp.plan_dynamodb(opts.dynamodb_url, port),
        "redis": lambda port: comp.plan_redis(opts.redis_url, port),
        "llm": lambda port: comp.plan_llm(opts.llm_url, opts.real_llm, port),
        "toxiproxy": lambda port: comp.plan_toxiproxy(opts.toxiproxy_url, port),
    }
    fixed = {"toxiproxy": opts.toxiproxy_port, "service": opts.service_port}
    plans = {name: make(fixed.get(name) or comp_free()) for name, make in makers.items()}
    if plans["toxiproxy"].started_by_us and opts.toxiproxy_port:
        _check_port("toxiproxy", opts.toxiproxy_port, "--toxiproxy-port")
    service_port = opts.service_port or comp_free()
    if opts.service_port:
        _check_port("service", opts.service_port, "--service-port")
    if opts.real_llm and not os.environ.get("ANTHROPIC_API_KEY"):
        raise StackError("llm: --real-llm needs ANTHROPIC_API_KEY in the environment")

    started: dict[str, Spawned] = {}
    state = StackState(variant=opts.variant, home=str(home), created_at=time.time(), breaker=opts.breaker)
    try:
        with sigterm_as_interrupt(), _progress(console) as progress:
            for name in ("dynamodb", "redis", "llm", "toxiproxy"):
                plans[name], state.components[name] = _start_on_its_port(
                    plans[name], makers[name], bool(fixed.get(name)), logs, started, progress, opts.die_with_parent)
            proxies = _create_proxies(plans)
            for name, proxy_url in proxies.items():
                state.components[name].proxy = name
                state.components[name].proxy_url = proxy_url
            llm_target = proxies.get("llm", plans["llm"].url)
            def make_service(port: int) -> comp.Plan:
                return comp.plan_service(
                    port, opts.variant, proxies.get("dynamodb", plans["dynamodb"].url),
                    proxies.get("redis", plans["redis"].url), llm_target, home, opts.breaker,
                    os.environ.get("ANTHROPIC_API_KEY") if opts.real_llm else None)

            _, info = _start_on_its_port(make_service(service_port), make_service, bool(opts.service_port), logs,
                                         started, progress, opts.die_with_parent)
            info.event_log = str(home / "events.jsonl")
            info.outbox = str(home / "outbox.jsonl")
            state.components["service"] = info
        save_state(state, home)
    except BaseException:
        _teardown_started(started, plans)
        raise
    return state


def comp_free() -> int:
    """A free loopback port (indirection so tests can see where ports come from)."""
    from harness.stack.net import free_port

    return free_port()


@contextlib.contextmanager
def _progress(console: Console) -> Iterator[Progress]:
    progress = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
        console=console, transient=False,
    )
    with progress:
        yield progress


def _start(plan: comp.Plan, logs: Path, started: dict[str, Spawned], progress: Progress,
           die_with_parent: bool = False) -> Component:
    task = progress.add_task(escape(f"{plan.name}: starting {plan.backend}"), total=1)
    spawned: Spawned | None = None
    if plan.started_by_us:
        spawned = spawn(plan.argv, logs / f"{plan.name}.log", plan.env, die_with_parent=die_with_parent)
        started[plan.name] = spawned
    if plan.probe is not None:
        wait_ready(plan.name, spawned, plan.probe, plan.ready_timeout)
    progress.update(task, completed=1, description=f"[green]{plan.name}[/]: ready ({escape(plan.backend)})")
    return Component(backend=plan.backend, url=plan.url, started_by_us=spawned is not None,
                     pid=spawned.pid if spawned else None, create_time=spawned.create_time if spawned else None,
                     log=str(spawned.log) if spawned else None)


PORT_TAKEN = "Address already in use"


def _start_on_its_port(plan: comp.Plan, make: Callable[[int], comp.Plan], fixed: bool, logs: Path,
                       started: dict[str, Spawned], progress: Progress,
                       die_with_parent: bool) -> tuple[comp.Plan, Component]:
    """Start ``plan``; if another process took its free port first, start it again on a new one.

    Why: a free port is found by binding port 0 and closing it, so until the
    component binds it, anything on the machine (an outgoing connection's
    ephemeral port, a parallel test's stack) may take it. A port the user gave
    is theirs to fix, so only a picked one is picked again (at most twice).
    """
    for attempt in range(3):
        try:
            return plan, _start(plan, logs, started, progress, die_with_parent)
        except ComponentError as exc:
            if fixed or PORT_TAKEN not in str(exc) or attempt == 2:
                raise
            started.pop(plan.name, None)  # it exited: nothing to stop
            plan = make(comp_free())
    raise AssertionError("unreachable")


def _create_proxies(plans: dict[str, comp.Plan]) -> dict[str, str]:
    """Create the ``dynamodb``, ``redis`` and ``llm`` proxies through toxiproxy-python."""
    from toxiproxy.api import APIConsumer
    from toxiproxy.server import Toxiproxy

    from harness.stack.net import free_port, host_port

    api_host, api_port = host_port(plans["toxiproxy"].url, 8474)
    APIConsumer.host, APIConsumer.port = api_host, api_port
    server = Toxiproxy()
    scheme = {"dynamodb": "http", "redis": "redis", "llm": "http"}
    out: dict[str, str] = {}
    for name in PROXIED:
        plan = plans[name]
        if plan.url.startswith(("https://", "rediss://")):
            continue  # a TCP proxy cannot sit inside TLS: used directly, so no faults for this component
        upstream_host, upstream_port = host_port(plan.url, 6379 if name == "redis" else 80)
        existing = server.get_proxy(name)
        if existing is not None:
            server.destroy(existing)
        try:
            proxy = server.create(
                upstream=f"{upstream_host}:{upstream_port}", name=name, listen=f"127.0.0.1:{free_port()}"
            )
        except Exception as exc:
            raise ComponentError("toxiproxy", f"could not create proxy {name!r}: {exc}") from exc
        listen = str(proxy.listen)
        path = "/0" if name == "redis" else ""
        out[name] = f"{scheme[name]}://{listen}{path}"
    return out


def _teardown_started(started: dict[str, Spawned], plans: dict[str, comp.Plan] | None = None) -> None:
    stop_many([(proc.pid, proc.create_time) for proc in reversed(list(started.values()))])
    if plans and not plans["toxiproxy"].started_by_us:
        _delete_proxies(plans["toxiproxy"].url)


def _delete_proxies(toxiproxy_url: str) -> None:
    with contextlib.suppress(ToxiproxyError), ToxiproxyClient(toxiproxy_url, timeout=2) as client:
        for name in PROXIED:
            with contextlib.suppress(ToxiproxyError):
                client.delete_proxy(name)


def down(home: Path) -> list[str]:
    """Stop everything ``up`` started in ``home``; return the names stopped. Idempotent."""
    clean_stale(home)
    state = load_state(home)
    if not state:
        return []
    comps = state.components
    toxi = comps.get("toxiproxy")
    if toxi is not None and not toxi.started_by_us:
        _delete_proxies(toxi.url)  # a Toxiproxy we only used keeps running; our proxies on it go
    order: list[str] = [name for name in ("service", "toxiproxy", "llm", "redis", "dynamodb")
             if name in comps and comps[name].started_by_us and comps[name].pid]
    pids = stop_many([(int(comps[name].pid or 0), comps[name].create_time) for name in order])
    stopped = [name for name in order if comps[name].pid in pids]
    clear_state(home)
    return stopped


@dataclass(frozen=True)
class ComponentStatus:
    """One component as ``harness status`` finds it now: where it answers, whether its process lives and is healthy."""

    backend: str
    url: str
    proxy_url: str | None
    pid: int | None
    log: str | None
    started_by_us: bool
    event_log: str | None  # the service's own event log: what `harness chaos --service-events` wants
    alive: bool
    healthy: bool
    reason: str | None = None  # why it is not healthy, when there is more to say than "no answer"

    def to_json(self) -> dict[str, Any]:
        """The component's entry in ``harness status --json``."""
        out: dict[str, Any] = {"backend": self.backend, "url": self.url, "proxy_url": self.proxy_url,
                               "pid": self.pid, "log": self.log, "started_by_us": self.started_by_us}
        if self.event_log:
            out["event_log"] = self.event_log
        out["alive"] = self.alive
        out["healthy"] = self.healthy
        if self.reason is not None:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class ProxyStatus:
    """One Toxiproxy proxy as its API lists it, with the toxics active on it right now."""

    enabled: bool | None
    listen: str | None
    upstream: str | None
    toxics: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "listen": self.listen, "upstream": self.upstream,
                "toxics": list(self.toxics)}


@dataclass(frozen=True)
class StackStatus:
    """What ``harness status`` reports: each component's health, and each proxy with its active toxics.

    ``proxies_error`` is set when the Toxiproxy API could not list its proxies;
    ``proxies`` is then empty because the active toxics are unknown, not absent.
    """

    home: str
    running: bool = False
    variant: str = ""
    created_at: float = 0.0
    breaker: BreakerTimings = DESIGN
    event_log: str | None = None
    components: Mapping[str, ComponentStatus] = field(default_factory=dict)
    proxies: Mapping[str, ProxyStatus] = field(default_factory=dict)
    proxies_error: str | None = None

    @property
    def exit_code(self) -> int:
        """1 when there is no stack, or when its toxics cannot be listed; else 0.

        An unlisted proxy set is a failure of the command itself, not just an
        unhealthy component: what ``harness status`` exists to say (which faults are active
        on the stack right now) is unknown, and a script deciding whether a stack
        is clean before a chaos run must not read that as "no toxics".
        """
        return 1 if not self.running or self.proxies_error is not None else 0

    def to_json(self) -> dict[str, Any]:
        """``harness status --json``."""
        comps = {name: c.to_json() for name, c in self.components.items()}
        proxies: dict[str, Any] = ({"error": self.proxies_error} if self.proxies_error is not None
                                   else {name: p.to_json() for name, p in self.proxies.items()})
        if not self.running:
            return {"running": False, "home": self.home, "components": comps, "proxies": proxies}
        return {"running": True, "home": self.home, "variant": self.variant, "created_at": self.created_at,
                "breaker": self.breaker.to_json(), "event_log": self.event_log, "components": comps,
                "proxies": proxies}


def status(home: Path) -> StackStatus:
    """Health of each component and the toxics currently active."""
    state = load_state(home)
    if not state:
        return StackStatus(home=str(home))
    proxies, proxies_error = _list_proxies(state.url_of("toxiproxy"))
    comps = {name: _component_status(name, info, proxies_error) for name, info in state.components.items()}
    service = state.components.get("service")
    return StackStatus(home=str(home), running=True, variant=state.variant, created_at=state.created_at,
                       breaker=state.breaker, event_log=service.event_log if service else None,
                       components=comps, proxies=proxies, proxies_error=proxies_error)


def _list_proxies(toxi_url: str | None) -> tuple[dict[str, ProxyStatus], str | None]:
    """Each proxy and its toxics, or why the Toxiproxy API would not list them."""
    if not toxi_url:
        return {}, None
    try:
        with ToxiproxyClient(toxi_url, timeout=2) as client:
            listed = client.proxies()
    except ToxiproxyError as exc:
        return {}, str(exc)
    except ValueError as exc:  # a 200 whose body is not the proxies' JSON
        return {}, f"GET /proxies: not the proxies' JSON ({exc})"
    return {name: ProxyStatus(enabled=proxy.get("enabled"), listen=proxy.get("listen"),
                              upstream=proxy.get("upstream"), toxics=tuple(proxy.get("toxics") or ()))
            for name, proxy in listed.items()}, None


def _component_status(name: str, info: Component, proxies_error: str | None) -> ComponentStatus:
    healthy, reason = _healthy(name, info), None
    if name == "toxiproxy" and proxies_error is not None:
        # Answering /version is not enough: faults are added, listed and rolled back
        # through /proxies, so a Toxiproxy that fails there cannot host a chaos run.
        healthy, reason = False, proxies_error
    return ComponentStatus(
        backend=info.backend, url=info.url, proxy_url=info.proxy_url, pid=info.pid, log=info.log,
        started_by_us=info.started_by_us, event_log=info.event_log,
        alive=bool(info.pid) and is_alive(info.pid or 0, info.create_time), healthy=healthy, reason=reason,
    )


def _healthy(name: str, info: Component) -> bool:
    url = info.url
    if name == "dynamodb":
        return comp.dynamodb_ok(url)
    if name == "redis":
        return comp.redis_ok(url)
    if name == "toxiproxy":
        return comp.http_ok(url + "/version")
    if name == "service":
        return comp.http_ok(url + "/healthz")
    if name == "llm":
        if info.backend == "anthropic-standin":
            return comp.http_ok(url + "/healthz")
        return True
    return False
