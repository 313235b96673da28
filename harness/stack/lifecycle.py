"""``harness up``, ``status`` and ``down``: compose the components into a stack.

``up`` is all-or-nothing: if any component fails to start, or the user presses
Ctrl-C, or SIGTERM arrives, everything already started is stopped before the
error is reported, so a failed ``up`` never leaves a half stack behind.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
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
        raise StackError(f"service: {problem}")
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

    plans = {
        "dynamodb": comp.plan_dynamodb(opts.dynamodb_url, comp_free()),
        "redis": comp.plan_redis(opts.redis_url, comp_free()),
        "llm": comp.plan_llm(opts.llm_url, opts.real_llm, comp_free()),
        "toxiproxy": comp.plan_toxiproxy(opts.toxiproxy_url, opts.toxiproxy_port or comp_free()),
    }
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
                plan = plans[name]
                state.components[name] = _start(plan, logs, started, progress, opts.die_with_parent)
            proxies = _create_proxies(plans)
            for name, proxy_url in proxies.items():
                state.components[name].proxy = name
                state.components[name].proxy_url = proxy_url
            llm_target = proxies.get("llm", plans["llm"].url)
            service = comp.plan_service(
                service_port,
                opts.variant,
                proxies.get("dynamodb", plans["dynamodb"].url),
                proxies.get("redis", plans["redis"].url),
                llm_target,
                home,
                opts.breaker,
                os.environ.get("ANTHROPIC_API_KEY") if opts.real_llm else None,
            )
            info = _start(service, logs, started, progress, opts.die_with_parent)
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


def status(home: Path) -> dict[str, Any]:
    """Health of each component and the toxics currently active."""
    state = load_state(home)
    if not state:
        return {"running": False, "home": str(home), "components": {}, "proxies": {}}
    comps: dict[str, Any] = {}
    for name, info in state.components.items():
        entry: dict[str, Any] = {"backend": info.backend, "url": info.url, "proxy_url": info.proxy_url,
                                 "pid": info.pid, "log": info.log, "started_by_us": info.started_by_us}
        if info.event_log:
            entry["event_log"] = info.event_log  # what `harness chaos --service-events` wants
        entry["alive"] = bool(info.pid) and is_alive(info.pid or 0, info.create_time)
        entry["healthy"] = _healthy(name, info)
        comps[name] = entry
    proxies: dict[str, Any] = {}
    toxi_url = state.url_of("toxiproxy")
    if toxi_url:
        try:
            with ToxiproxyClient(toxi_url, timeout=2) as client:
                for name, proxy in client.proxies().items():
                    proxies[name] = {
                        "enabled": proxy.get("enabled"),
                        "listen": proxy.get("listen"),
                        "upstream": proxy.get("upstream"),
                        "toxics": proxy.get("toxics", []),
                    }
        except ToxiproxyError as exc:
            proxies = {"error": str(exc)}
    return {
        "running": True,
        "home": str(home),
        "variant": state.variant,
        "created_at": state.created_at,
        "breaker": state.breaker.to_json(),
        "event_log": state.components["service"].event_log if "service" in state.components else None,
        "components": comps,
        "proxies": proxies,
    }


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
