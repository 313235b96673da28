"""Running the fault proxy: blocking ``serve()`` for the CLI, ``run_in_thread()`` for tests.

Why two entry points: the ``harness toxiproxy-server`` command and
``python -m harness.toxiproxy`` need a foreground process that prints one
ready line and shuts down cleanly on SIGINT/SIGTERM; tests and other parts of
the harness want an in-process server on a free port with a handle to stop it.
Both share :func:`start_server`, which loads an optional config (the same JSON
array ``/populate`` takes) before the API starts accepting requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.toxiproxy.api import ApiServer

try:  # uvloop makes the data path several times faster; uvicorn[standard] brings it except on Windows.
    import uvloop

    _loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
except ImportError:  # pragma: no cover - only where uvicorn[standard] leaves uvloop out
    _loop_factory = None


class ServeError(Exception):
    """A startup problem that deserves a one-line message and a non-zero exit."""


async def load_config(api: ApiServer, config: Path) -> None:
    """Populate ``api`` from a JSON file holding the array ``/populate`` takes."""
    try:
        body = config.read_bytes()
    except OSError as exc:
        raise ServeError(f"cannot read config {config}: {exc.strerror or exc}") from None
    resp = await api.populate(body=body)
    if resp.status != 201:
        try:
            message = json.loads(resp.body)["error"]
        except (ValueError, KeyError):
            message = resp.body.decode(errors="replace")
        raise ServeError(f"config {config}: {message}")


async def start_server(host: str, port: int, config: Path | None) -> tuple[ApiServer, int]:
    """Create the API server, apply ``config``, bind ``host:port``; return it and the real port."""
    api = ApiServer()
    try:
        if config is not None:
            await load_config(api, config)
        try:
            real_port = await api.listen(host, port)
        except OSError as exc:
            reason = "address already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
            raise ServeError(f"cannot listen on {host}:{port}: {reason}") from None
    except BaseException:
        await api.close()
        raise
    return api, real_port


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def _serve(host: str, port: int, config: Path | None) -> None:
    api, real_port = await start_server(host, port, config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    print(f"toxiproxy listening on {_url(host, real_port)}", flush=True)
    try:
        await stop.wait()
    finally:
        await api.close()


def _run(coro: Any) -> None:
    if _loop_factory is not None:
        with asyncio.Runner(loop_factory=_loop_factory) as runner:
            runner.run(coro)
    else:  # pragma: no cover
        asyncio.run(coro)


def serve(host: str, port: int, config: Path | None) -> None:
    """Run the Toxiproxy-compatible server until SIGINT/SIGTERM (blocking).

    Prints ``toxiproxy listening on http://HOST:PORT`` once ready (port 0 =>
    the real port).  Startup problems (busy port, bad config) print one line
    to stderr and raise ``SystemExit(1)``.
    """
    try:
        _run(_serve(host, port, config))
    except ServeError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        pass


@dataclass
class RunningServer:
    """Handle on a server running in a background thread (see :func:`run_in_thread`)."""

    host: str
    port: int
    api: ApiServer
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    _stop: asyncio.Event

    @property
    def url(self) -> str:
        return _url(self.host, self.port)

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn()`` (may return a coroutine) on the server loop and return its result."""

        async def runner() -> Any:
            result = fn()
            if asyncio.iscoroutine(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(runner(), self.loop).result(timeout=30)

    def stop(self, timeout: float = 10.0) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
            self.thread.join(timeout)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_in_thread(host: str = "127.0.0.1", port: int = 0, config: Path | None = None) -> RunningServer:
    """Start a server on its own event loop in a daemon thread; returns once it is listening."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        try:
            api, real_port = await start_server(host, port, config)
        except BaseException as exc:
            box["error"] = exc
            ready.set()
            return
        box.update(api=api, port=real_port, loop=asyncio.get_running_loop(), stop=asyncio.Event())
        ready.set()
        try:
            await box["stop"].wait()
        finally:
            await api.close()

    thread = threading.Thread(target=_run, args=(main(),), name="toxiproxy", daemon=True)
    thread.start()
    if not ready.wait(30):
        raise ServeError("toxiproxy server did not start within 30 s")
    if "error" in box:
        thread.join(5)
        raise box["error"]
    return RunningServer(host, box["port"], box["api"], box["loop"], thread, box["stop"])
