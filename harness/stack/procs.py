"""Starting, watching and reaping the stack's processes.

Each component runs in its own session (process group), with its output in a
log file, so that ``harness down`` can stop it and everything it spawned by PID
from a different process, long after ``harness up`` has exited. The PID is
paired with the process's creation time so that a recycled PID is never killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import psutil


class ComponentError(RuntimeError):
    """A component failed to start; the message names it and fits on one line."""

    def __init__(self, component: str, message: str) -> None:
        super().__init__(f"{component}: {message}")
        self.component = component


@dataclass(frozen=True)
class Spawned:
    """A process we started: enough to find and stop it again later."""

    pid: int
    create_time: float
    log: Path
    popen: subprocess.Popen[bytes] | None = None


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM us when the parent dies (even by SIGKILL)."""
    import ctypes

    parent = os.getppid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def spawn(argv: Sequence[str], log: Path, env: Mapping[str, str] | None = None,
          die_with_parent: bool = False) -> Spawned:
    """Start ``argv`` in a new session with stdout and stderr appended to ``log``.

    ``die_with_parent`` is for what a single command owns (a chaos run's private
    stack, its Locust): a ``kill -9`` of the harness must not leave them running.
    A ``harness up`` stack outlives its command on purpose and does not set it.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    seen = _signals_seen
    with log.open("ab") as out:
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=full_env,
            start_new_session=True,
            preexec_fn=_die_with_parent if die_with_parent and sys.platform.startswith("linux") else None,
        )
    if _signals_seen != seen:
        # Interrupted while forking: the KeyboardInterrupt was raised inside an at-fork hook and
        # dropped. Stop the child we just made (nobody owns it yet) and deliver the interrupt.
        with contextlib.suppress(OSError):
            os.killpg(popen.pid, signal.SIGKILL)
        popen.wait()
        raise KeyboardInterrupt("signal while starting a process")
    try:
        created = psutil.Process(popen.pid).create_time()
    except psutil.Error:
        created = 0.0
    return Spawned(pid=popen.pid, create_time=created, log=log, popen=popen)


def tail(log: Path, lines: int = 1) -> str:
    """The last non-empty lines of a log, for one-line error messages."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return ""
    kept = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(kept[-lines:])


def wait_ready(
    component: str,
    proc: Spawned | None,
    probe: Callable[[], bool],
    timeout: float,
    interval: float = 0.05,
) -> None:
    """Poll ``probe`` until it succeeds; fail fast if the process dies, or at ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.popen is not None and proc.popen.poll() is not None:
            last = tail(proc.log, 2)
            raise ComponentError(
                component,
                f"exited with code {proc.popen.returncode} during start"
                + (f": {last}" if last else f" (see {proc.log})"),
            )
        try:
            if probe():
                return
        except Exception:  # a probe that raises just means "not yet"
            pass
        if time.monotonic() >= deadline:
            last = tail(proc.log, 1) if proc else ""
            raise ComponentError(
                component,
                f"did not become ready within {timeout:g}s" + (f" (last log: {last})" if last else ""),
            )
        time.sleep(interval)


def is_alive(pid: int | None, create_time: float | None = None) -> bool:
    """True when ``pid`` runs and, if given, was created at ``create_time``."""
    if not pid:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        if create_time and abs(proc.create_time() - create_time) > 0.05:
            # psutil derives start times from the wall clock at boot, so a clock
            # step moves them all; our own child is ours whatever the clock says.
            return proc.ppid() == os.getpid()
        return True
    except psutil.Error:
        return False


def _running(proc: psutil.Process) -> bool:
    """Alive and not a zombie: an exited process whose parent has not reaped it yet is done."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def stop_many(targets: Sequence[tuple[int | None, float | None]], timeout: float = 5.0) -> list[int]:
    """Stop several process groups at once: SIGTERM to all, then SIGKILL what is left after ``timeout``.

    Stopping in parallel keeps ``harness down`` as slow as the slowest component rather than
    the sum of them. Returns the PIDs that were running. Safe on dead or recycled PIDs.
    """
    procs: list[psutil.Process] = []
    groups: list[int] = []
    stopped: list[int] = []
    for pid, create_time in targets:
        if not pid or not is_alive(pid, create_time):
            _reap(pid)
            continue
        try:
            head = psutil.Process(pid)
            family = [head, *head.children(recursive=True)]
            pgid = os.getpgid(pid)
        except (psutil.Error, ProcessLookupError):
            continue
        stopped.append(pid)
        procs.extend(family)
        try:
            if pgid == pid:
                groups.append(pgid)
                os.killpg(pgid, signal.SIGTERM)
            else:
                os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_running(p) for p in procs):
        for pid in stopped:
            _reap(pid)
        time.sleep(0.02)
    for proc in procs:
        if _running(proc):
            with contextlib.suppress(psutil.Error):
                proc.kill()
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    for pid in stopped:
        _reap(pid)
    return stopped


def stop(pid: int | None, create_time: float | None = None, timeout: float = 5.0) -> bool:
    """Stop the process group of ``pid``: SIGTERM, then SIGKILL after ``timeout``.

    Returns True if something was stopped. Safe to call on a dead or recycled PID.
    """
    return bool(stop_many([(pid, create_time)], timeout))


def _reap(pid: int | None) -> None:
    """Collect the exit status if ``pid`` is our child, so no zombie is left."""
    if not pid:
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


_signals_seen = 0
"""How many SIGINT/SIGTERM the handler below has taken: a raise Python swallowed still counts."""


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM (and SIGINT) into KeyboardInterrupt, so Ctrl-C and ``kill`` take the same cleanup path.

    The handler also counts each signal: a handler that runs inside Python's
    at-fork hooks (a ``preexec_fn`` spawn) raises into a hook whose exceptions
    are printed and dropped, so :func:`spawn` re-raises what the count says it lost.
    """

    def handler(signum: int, frame: FrameType | None) -> None:
        global _signals_seen
        _signals_seen += 1
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    except ValueError:  # not the main thread: signals cannot be handled here
        yield
        return
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
