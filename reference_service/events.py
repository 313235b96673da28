"""The service event log (docs/contracts.md, "Service event log"): one JSON object per line.

Why a file and not just logging: the analyzers join these lines with the load
records by time, so every line must be machine-readable, carry ``ts``, and be
on disk within 100 ms.  The file is opened line-buffered, so each ``emit``
reaches the OS immediately; a single small ``write`` per line keeps lines whole.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any, TextIO


class EventLog:
    """Appends events to a JSON-lines file; a no-op when no path is configured."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self._fh: TextIO | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115

    def emit(self, event: str, **fields: Any) -> None:
        """Write one line ``{"ts": now, "event": event, **fields}``."""
        if self._fh is None:
            return
        record: dict[str, Any] = {"ts": time.time(), "event": event}
        record.update(fields)
        # A full disk must not fail a chat turn.
        with contextlib.suppress(OSError, ValueError):
            self._fh.write(json.dumps(record, separators=(",", ":"), default=str) + "\n")

    def close(self) -> None:
        """Flush and close the file."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
