"""The background-thread lifecycle every in-process stand-in shares.

Tests and benchmarks run a stand-in inside their own process, on a real
loopback socket, so the service under test still crosses a network hop. Each
stand-in binds in its constructor (port 0 works, and ``url`` is known before
anyone connects) and serves from a daemon thread, so a forgotten ``stop()``
cannot keep the interpreter alive. Subclasses say only how they serve, when
they are ready and how they shut down.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from typing import ClassVar, Self

__all__ = ["BackgroundServer"]


class BackgroundServer(ABC):
    """A server already bound to its socket, served from a daemon thread by ``start()``.

    No ``__init__`` here, so a subclass can also derive from a server class
    with its own constructor (the Redis stand-in is a ``TcpFakeServer``); list
    this class first so its ``__enter__``/``__exit__`` win.
    """

    standin_name: ClassVar[str]
    """Short name (``dynamodb``, ``redis``, ``llm``); the thread is ``<name>-standin``."""
    start_timeout_s: ClassVar[float] = 10.0
    """How long ``start()`` waits for :meth:`_ready`."""
    join_timeout_s: ClassVar[float] = 5.0
    """How long ``stop()`` waits for the serving thread to end."""

    _thread: threading.Thread | None = None

    @property
    @abstractmethod
    def url(self) -> str:
        """Where clients connect, e.g. ``http://127.0.0.1:PORT``."""

    @abstractmethod
    def _serve(self) -> None:
        """Serve until :meth:`_shutdown` is called (runs in the background thread)."""

    def _ready(self) -> bool:
        """True once connections are served; by default at once, as the socket is listening already."""
        return True

    @abstractmethod
    def _shutdown(self) -> None:
        """Make :meth:`_serve` return (called by ``stop()`` before joining the thread)."""

    @abstractmethod
    def _close(self) -> None:
        """Release the listening socket (called by ``stop()`` after joining the thread)."""

    def start(self) -> Self:
        """Serve in a background thread; raises ``RuntimeError`` if not ready within ``start_timeout_s``."""
        thread = threading.Thread(target=self._serve, name=f"{self.standin_name}-standin", daemon=True)
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + self.start_timeout_s
        while not self._ready() and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self._ready():
            raise RuntimeError(f"{self.standin_name} stand-in failed to start")
        return self

    def stop(self) -> None:
        """Stop serving, wait for the thread (at most ``join_timeout_s``) and close the socket."""
        self._shutdown()
        if self._thread is not None:
            self._thread.join(timeout=self.join_timeout_s)
        self._close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
