"""Finding what a dead run left behind, and removing it.

Why: a ``kill -9`` of ``harness chaos`` runs no cleanup at all. Its private
stack dies with it (its processes are started with ``PR_SET_PDEATHSIG``), but
toxics it added to a longer-lived proxy (a ``harness up`` stack, or an
external Toxiproxy) would poison every later run. So each run registers
itself in ``<home>/runs/<tag>.json`` -- its pid, its Toxiproxy and, as they
happen, the faults it applied -- and removes the file when it ends. The next
``harness up``, ``chaos`` or ``down`` treats a registration whose process is
gone as stale: it removes that run's toxics (named after its tag),
re-enables the proxies it disabled, and says what it removed.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from harness.stack.procs import is_alive
from harness.toxiclient import ToxiproxyClient, ToxiproxyError


@dataclass
class Registration:
    """One live run, as the next command needs to know it if this one dies."""

    tag: str
    pid: int
    create_time: float
    toxiproxy_url: str | None
    disabled: list[str] = field(default_factory=list)


class RunRegistry:
    """``<home>/runs/``: one file per running chaos run."""

    def __init__(self, home: Path) -> None:
        self.dir = home / "runs"

    def _path(self, tag: str) -> Path:
        return self.dir / f"{tag}.json"

    def register(self, tag: str, toxiproxy_url: str | None) -> Registration:
        me = psutil.Process(os.getpid())
        reg = Registration(tag, me.pid, me.create_time(), toxiproxy_url)
        self.save(reg)
        return reg

    def save(self, reg: Registration) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self._path(reg.tag).with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(reg)))
        tmp.replace(self._path(reg.tag))

    def release(self, tag: str) -> None:
        self._path(tag).unlink(missing_ok=True)

    def stale(self) -> list[Registration]:
        out: list[Registration] = []
        for path in sorted(self.dir.glob("*.json")) if self.dir.is_dir() else []:
            try:
                reg = Registration(**json.loads(path.read_text()))
            except (OSError, ValueError, TypeError):
                path.unlink(missing_ok=True)
                continue
            if not is_alive(reg.pid, reg.create_time):
                out.append(reg)
        return out

    def clean(self) -> list[str]:
        """Undo what every dead run left behind; return one line per thing removed."""
        removed: list[str] = []
        for reg in self.stale():
            removed += clean_proxy(reg.toxiproxy_url, reg.tag, reg.disabled)
            self.release(reg.tag)
        return removed


def clean_proxy(toxiproxy_url: str | None, tag: str, disabled: list[str]) -> list[str]:
    """Remove toxics named after ``tag`` and re-enable ``disabled`` proxies on ``toxiproxy_url``."""
    if not toxiproxy_url:
        return []
    removed: list[str] = []
    prefix = f"harness_{tag}_"
    with contextlib.suppress(ToxiproxyError), ToxiproxyClient(toxiproxy_url, timeout=2) as client:
        for name, proxy in client.proxies().items():
            for toxic in proxy.get("toxics", []):
                if str(toxic.get("name", "")).startswith(prefix):
                    with contextlib.suppress(ToxiproxyError):
                        client.remove_toxic(name, toxic["name"])
                        removed.append(f"toxic {toxic['name']} on {name} (run {tag})")
            if name in disabled and not proxy.get("enabled", True):
                with contextlib.suppress(ToxiproxyError):
                    client.set_enabled(name, True)
                    removed.append(f"re-enabled proxy {name} (run {tag})")
    return removed
