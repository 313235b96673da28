"""Shared helpers for the stand-in tests: start a stand-in as a real child process.

Each stand-in is exercised the way ``harness up`` uses it: ``python -m
harness.standins.<name> --port 0``, wait for the one ready line, talk to it over
loopback TCP, stop it with SIGTERM and reap it, even when the test fails.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest


@dataclass
class Proc:
    """A running stand-in child process and the URL from its ready line."""

    proc: subprocess.Popen[str]
    url: str
    ready_line: str

    def stop(self, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        return self.proc.returncode


@contextmanager
def spawn(name: str, *args: str, ready_timeout: float = 30.0) -> Iterator[Proc]:
    """Run ``python -m harness.standins.<name> --host 127.0.0.1 --port 0 *args``."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", AWS_EC2_METADATA_DISABLED="true")
    cmd = [sys.executable, "-m", f"harness.standins.{name}", "--host", "127.0.0.1", "--port", "0", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()

    def _reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=_reader, daemon=True).start()
    handle = Proc(proc, "", "")
    try:
        try:
            line = lines.get(timeout=ready_timeout).rstrip("\n")
        except queue.Empty:
            pytest.fail(f"{name} stand-in printed no ready line within {ready_timeout}s")
        prefix = f"{name} listening on "
        assert line.startswith(prefix), f"unexpected ready line {line!r}"
        handle.url = line[len(prefix):]
        handle.ready_line = line
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="session")
def spawn_standin() -> object:
    """The :func:`spawn` context manager, as a fixture (test modules here are not a package)."""
    return spawn
