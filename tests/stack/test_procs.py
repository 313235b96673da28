"""A signal that lands while a process is being forked is delivered, and the half-made child is stopped."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest

from harness.stack.procs import sigterm_as_interrupt, spawn

_armed = False


def _signal_inside_the_fork_hooks() -> None:
    """Stand in for a SIGTERM that arrives mid-fork: the handler then runs inside Python's at-fork hooks."""
    global _armed
    if _armed:
        _armed = False
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # the handler runs here, and what it raises is dropped by the hook machinery


os.register_at_fork(after_in_parent=_signal_inside_the_fork_hooks)


def _sleepers() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True)
            if "sleeping-child-of-the-fork-test" in " ".join(p.cmdline())]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the dropped raise is the case
def test_a_signal_during_a_spawn_is_not_lost_and_its_child_is_stopped(tmp_path: Path) -> None:
    global _armed
    argv = [sys.executable, "-c", "import time; time.sleep(60)  # sleeping-child-of-the-fork-test"]
    with sigterm_as_interrupt():
        _armed = True
        with pytest.raises(KeyboardInterrupt, match="signal while starting a process"):
            spawn(argv, tmp_path / "child.log", die_with_parent=True)  # die_with_parent: a preexec_fn, hooks run
    assert not _armed
    assert _sleepers() == []


def test_without_a_signal_the_child_runs(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "import time; time.sleep(60)  # sleeping-child-of-the-fork-test"]
    with sigterm_as_interrupt():
        child = spawn(argv, tmp_path / "child.log", die_with_parent=True)
    try:
        assert [p.pid for p in _sleepers()] == [child.pid]
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        assert child.popen is not None
        child.popen.wait()
