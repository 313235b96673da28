"""Tailing the recorder's file while a run goes on, for the progress display and the early abort.

The live p99 comes from the recording plugin's own records, not from Locust's
rounded buckets, and a turn counts as failed here by the same fields the
analyzers judge it by.
"""

from __future__ import annotations

import json
import time
from collections import deque
from pathlib import Path

import numpy as np

from harness.records import FAILED_VERDICTS, REQUEST_KIND


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
            if rec.get("kind") != REQUEST_KIND:
                continue
            self.total += 1
            if rec.get("status") != 200 or rec.get("verdict") in FAILED_VERDICTS:
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
