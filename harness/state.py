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
from pathlib import Path
from typing import Any

STATE_VERSION = 1
COMPONENTS = ("dynamodb", "redis", "llm", "toxiproxy", "service")


def harness_home() -> Path:
    """``$HARNESS_HOME``, or ``./.harness`` relative to the working directory."""
    return Path(os.environ.get("HARNESS_HOME", ".harness")).resolve()


def state_path(home: Path | None = None) -> Path:
    """Where the state file lives for ``home`` (default :func:`harness_home`)."""
    return (home or harness_home()) / "state.json"


def load_state(home: Path | None = None) -> dict[str, Any] | None:
    """Return the state written by ``harness up``, or ``None`` when there is no stack."""
    path = state_path(home)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StateError(f"state file {path} is unreadable: {exc}") from exc
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        raise StateError(f"state file {path} has an unknown format")
    return data


def save_state(state: dict[str, Any], home: Path | None = None) -> Path:
    """Write the state atomically, so a reader never sees half a file."""
    path = state_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state-", suffix=".json")
    with os.fdopen(fd, "w") as handle:
        json.dump(state, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)
    return path


def clear_state(home: Path | None = None) -> None:
    """Forget the stack (after ``harness down``)."""
    state_path(home).unlink(missing_ok=True)


def service_url(state: dict[str, Any] | None = None) -> str | None:
    """The reference service's base URL from the running stack, if any."""
    state = state if state is not None else load_state()
    if not state:
        return None
    url = state.get("components", {}).get("service", {}).get("url")
    return str(url) if url else None


class StateError(RuntimeError):
    """The state file exists but cannot be used."""


__all__ = [
    "COMPONENTS",
    "STATE_VERSION",
    "StateError",
    "clear_state",
    "harness_home",
    "load_state",
    "save_state",
    "service_url",
    "state_path",
]
