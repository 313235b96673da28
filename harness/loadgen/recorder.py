"""Per-request recording plugin for Locust (the load records section of docs/contracts.md).

Why not Locust's CSV: it is rewritten on a 1 s timer with no final write and
has no per-request rows; the analyzers need every request with its intended
start, memory mode and verdict. Load code only puts fields into the request
``context`` (named in :mod:`harness.records`); recording stays here.

A process buffers records for at most ``FLUSH_INTERVAL_S`` and writes each
batch with one ``os.write`` on an ``O_APPEND`` descriptor, so a ``kill -9``
loses at most that much and never leaves a torn line. Workers never touch the
file: they ship batches to the master, with a final flush in ``test_stop``
before their final stats, and the master drops any ``<process>:<seq>`` id it
saw already. The cost per request is in benchmarks/results/locust_recorder.md.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import sys
import time
from collections.abc import Iterable
from typing import Any

import gevent
import locust  # noqa: F401  # must precede anything that could import requests/boto3
import orjson
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from harness.loadgen.options import OptionsError, add_arguments, default_record_dir, resolve_host, validate
from harness.records import CONTEXT_FIELDS, RECORDS_FILE, REQUEST_KIND

logger = logging.getLogger("harness.loadgen.recorder")


def _encode(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record)

MESSAGE_TYPE = "harness_records"
FLUSH_INTERVAL_S = 0.05


class RecordSink:
    """Append-only JSON-lines file written with one ``os.write`` per batch."""

    def __init__(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, RECORDS_FILE)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.written = 0

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        if self._fd is None:
            return
        lines = [_encode(r) for r in records]
        if not lines:
            return
        lines.append(b"")
        view = memoryview(b"\n".join(lines))
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        self.written += len(lines) - 1

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Recorder:
    """Turns request events into contract records and routes them to the sink or master."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        runner = environment.runner
        self.is_worker = isinstance(runner, WorkerRunner)
        self.is_master = isinstance(runner, MasterRunner)
        self.worker_name = f"{socket.gethostname()}-{os.getpid()}"
        self.id_prefix = runner.client_id if isinstance(runner, WorkerRunner) else self.worker_name
        self._seq = itertools.count(1)
        self._buffer: list[dict[str, Any]] = []
        self._seen: set[str] = set()
        self._flusher: gevent.Greenlet | None = None
        self.sink: RecordSink | None = None
        if not self.is_worker:
            options = environment.parsed_options
            directory = (getattr(options, "record_dir", "") if options else "") or default_record_dir()
            self.sink = RecordSink(directory)
            logger.info("recording requests to %s", self.sink.path)
        if self.is_master and runner is not None:
            runner.register_message(MESSAGE_TYPE, self._on_worker_records)
        self._flusher = gevent.spawn(self._flush_loop)

    # -- producing ---------------------------------------------------------
    def emit(self, record: dict[str, Any]) -> None:
        """Add id/worker and route one record (a request or a ``missed_start``)."""
        record["id"] = f"{self.id_prefix}:{next(self._seq)}"
        record["worker"] = self.worker_name
        self._buffer.append(record)

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float,
        response_length: int,
        response: Any = None,
        context: dict[str, Any] | None = None,
        exception: BaseException | None = None,
        start_time: float | None = None,
        **_: Any,
    ) -> None:
        now = time.time()
        ctx = context or {}
        latency_s = (response_time or 0.0) / 1000.0
        start = start_time if start_time is not None else ctx.get("start", now - latency_s)
        status = ctx.get("status")
        if status is None:
            status = getattr(response, "status_code", None) or None
        error = ctx.get("error")
        if exception is not None:
            error = str(exception) or type(exception).__name__
        record: dict[str, Any] = {
            "kind": REQUEST_KIND,
            "ts": now,
            "start": start,
            "intended_start": ctx.get("intended_start", start),
            "latency_us": round((response_time or 0.0) * 1000),
            "status": status,
            "error": error,
            "name": name,
        }
        for key in CONTEXT_FIELDS:
            record[key] = ctx.get(key)
        verdict = ctx.get("verdict")
        if verdict is None:
            verdict = "error" if exception is not None else "unchecked"
        record["verdict"] = verdict
        self.emit(record)

    # -- flushing -----------------------------------------------------------
    def flush(self) -> None:
        """Write the buffer (local/master) or ship it to the master (worker)."""
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        if not self.is_worker:
            if self.sink is not None:
                self.sink.write(batch)
            return
        runner = self.environment.runner
        if runner is not None:
            runner.send_message(MESSAGE_TYPE, batch)

    def _flush_loop(self) -> None:
        while True:
            gevent.sleep(FLUSH_INTERVAL_S)
            try:
                self.flush()
            except Exception:  # lost master or full disk: say so, keep going
                logger.exception("could not flush records")

    # -- receiving (master) -------------------------------------------------
    def _on_worker_records(self, environment: Environment, msg: Any, **_: Any) -> None:
        fresh = []
        for record in msg.data or ():
            rid = record.get("id")
            if rid in self._seen:
                continue
            self._seen.add(rid)
            fresh.append(record)
        if self.sink is not None:
            self.sink.write(fresh)

    def close(self) -> None:
        self.flush()
        if self._flusher is not None:
            self._flusher.kill(block=False)
        if self.sink is not None:
            self.sink.close()


_RECORDER: Recorder | None = None


def current() -> Recorder | None:
    """The process's recorder (None before Locust's ``init``)."""
    return _RECORDER


def emit(record: dict[str, Any]) -> None:
    """Record a non-request event (e.g. ``missed_start``) if recording is active."""
    if _RECORDER is not None:
        _RECORDER.emit(record)


def _fail(message: str) -> None:
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
    os._exit(2)


@events.init_command_line_parser.add_listener
def _on_parser(parser: Any, **_: Any) -> None:
    add_arguments(parser)


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    global _RECORDER
    options = environment.parsed_options
    try:
        if options is not None:
            validate(options)
        if not isinstance(environment.runner, WorkerRunner):
            try:
                environment.host = resolve_host(environment.host)
            except OptionsError:
                # The web UI lets the user type a host; headless runs must have one now.
                if options is None or options.headless or options.autostart:
                    raise
                logger.warning("no --host and no running stack: enter the host in the web UI")
    except OptionsError as exc:
        _fail(str(exc))
    _RECORDER = Recorder(environment)
    environment.events.request.add_listener(_RECORDER.on_request)


@events.test_stop.add_listener
def _on_test_stop(environment: Environment, **_: Any) -> None:
    if _RECORDER is not None:
        _RECORDER.flush()


@events.quit.add_listener
def _on_quit(exit_code: int, **_: Any) -> None:
    if _RECORDER is not None:
        _RECORDER.close()


__all__ = ["MESSAGE_TYPE", "RecordSink", "Recorder", "current", "emit"]
