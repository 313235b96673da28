"""The stack's state file: what ``harness up`` started, where, and how to reach it.

One JSON document (docs/contracts.md, "Stack state file") is the hand-off between
``harness up`` and everything that runs later in other processes: ``harness
status``/``down``, ``harness chaos`` and ``locust -f scenarios/``. Keeping it a
plain file, rather than a daemon, means nothing of ours has to stay alive for
the stack to be found or torn down.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.breaker_timings import DESIGN, BreakerTimings

STATE_VERSION = 1
COMPONENTS = ("dynamodb", "redis", "llm", "toxiproxy", "service")
#: The reference service's two readings of the design: as written, and with its flaws fixed.
VARIANTS = ("seed", "hardened")


def variant_problem(variant: str) -> str | None:
    """Why ``variant`` is not one the stack can run (None when it is)."""
    return None if variant in VARIANTS else f"--variant must be seed or hardened, not {variant!r}"
_OPTIONAL = ("proxy", "proxy_url", "event_log", "outbox")


@dataclass
class Component:
    """One component of the stack: what it is, where it answers, and whether we own its process."""

    backend: str
    url: str
    started_by_us: bool = False
    pid: int | None = None
    create_time: float | None = None
    log: str | None = None
    proxy: str | None = None  # the Toxiproxy proxy in front of it, and that proxy's address
    proxy_url: str | None = None
    event_log: str | None = None  # the service's own event log and outbox
    outbox: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"backend": self.backend, "url": self.url, "started_by_us": self.started_by_us,
                               "pid": self.pid, "create_time": self.create_time, "log": self.log}
        out.update({k: getattr(self, k) for k in _OPTIONAL if getattr(self, k) is not None})
        return out

    @classmethod
    def from_json(cls, data: object) -> Component:
        if not isinstance(data, dict) or not isinstance(data.get("url"), str):
            raise ValueError("a component needs a url")
        backend = data.get("backend", "unknown")  # a hand-written file may name only the url
        if not isinstance(backend, str):
            raise ValueError(f"backend {backend!r} is not a string")
        pid = data.get("pid")
        if pid is not None and (not isinstance(pid, int) or isinstance(pid, bool)):
            raise ValueError(f"pid {pid!r} is not an integer")
        ct = data.get("create_time")
        # A file from before started_by_us was recorded: we started exactly what has a pid.
        return cls(backend=backend, url=data["url"], started_by_us=bool(data.get("started_by_us", pid)),
                   pid=pid, create_time=float(ct) if isinstance(ct, int | float) else None,
                   log=_opt_str(data.get("log")), proxy=_opt_str(data.get("proxy")),
                   proxy_url=_opt_str(data.get("proxy_url")), event_log=_opt_str(data.get("event_log")),
                   outbox=_opt_str(data.get("outbox")))


@dataclass
class StackState:
    """What ``harness up`` started: the variant, the breaker it runs with, and each component."""

    variant: str
    home: str
    created_at: float
    breaker: BreakerTimings = DESIGN
    components: dict[str, Component] = field(default_factory=dict)

    @property
    def service_url(self) -> str | None:
        service = self.components.get("service")
        return service.url if service else None

    def url_of(self, name: str) -> str | None:
        comp = self.components.get(name)
        return comp.url if comp else None

    def to_json(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, "created_at": self.created_at, "variant": self.variant,
                "home": self.home, "breaker": self.breaker.to_json(),
                "components": {name: c.to_json() for name, c in self.components.items()}}

    @classmethod
    def from_json(cls, data: object) -> StackState:
        """Raises ``ValueError`` naming what is wrong."""
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise ValueError("unknown format")
        comps = data.get("components")
        if not isinstance(comps, dict):
            raise ValueError("no components")
        components = {}
        for name, info in comps.items():
            try:
                components[str(name)] = Component.from_json(info)
            except ValueError as exc:
                raise ValueError(f"component {name}: {exc}") from None
        created = data.get("created_at")
        return cls(variant=str(data.get("variant") or ""), home=str(data.get("home") or ""),
                   created_at=float(created) if isinstance(created, int | float) else 0.0,
                   breaker=BreakerTimings.from_json(data.get("breaker")), components=components)


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def harness_home() -> Path:
    """``$HARNESS_HOME``, or ``./.harness`` relative to the working directory."""
    return Path(os.environ.get("HARNESS_HOME", ".harness")).resolve()


def state_path(home: Path | None = None) -> Path:
    """Where the state file lives for ``home`` (default :func:`harness_home`)."""
    return (home or harness_home()) / "state.json"


def load_state(home: Path | None = None) -> StackState | None:
    """Return the state written by ``harness up``, or ``None`` when there is no stack."""
    path = state_path(home)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StateError(f"state file {path} is unreadable: {exc}") from exc
    try:
        return StackState.from_json(data)
    except ValueError as exc:
        raise StateError(f"state file {path} has an unknown format: {exc}") from None


def save_state(state: StackState, home: Path | None = None) -> Path:
    """Write the state atomically, so a reader never sees half a file."""
    path = state_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state-", suffix=".json")
    with os.fdopen(fd, "w") as handle:
        json.dump(state.to_json(), handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)
    return path


def clear_state(home: Path | None = None) -> None:
    """Forget the stack (after ``harness down``)."""
    state_path(home).unlink(missing_ok=True)


def service_url(state: StackState | None = None) -> str | None:
    """The reference service's base URL from the running stack, if any."""
    state = state if state is not None else load_state()
    return state.service_url if state else None


class StateError(RuntimeError):
    """The state file exists but cannot be used."""


__all__ = [
    "COMPONENTS",
    "STATE_VERSION",
    "VARIANTS",
    "Component",
    "StackState",
    "StateError",
    "clear_state",
    "harness_home",
    "load_state",
    "save_state",
    "service_url",
    "state_path",
    "variant_problem",
]
