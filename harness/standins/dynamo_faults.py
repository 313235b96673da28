"""API-level DynamoDB faults: answers a real DynamoDB gives, which no TCP proxy can forge.

"Hot partitions or capacity issues" reach a client as HTTP answers, not as a
slow socket: a 400 ``ProvisionedThroughputExceededException`` that botocore
retries with backoff, a ``ThrottlingException``, a 500 ``InternalServerError``.
This WSGI middleware sits in front of moto and answers a share of DynamoDB
calls with exactly those bodies and headers, so the service's SDK reacts as it
would in production. The share is exact, not random: the n-th call fails when
``floor(n * rate)`` steps up, so a 20 % fault fails 1 call in 5 at any load.
For intermittent timeouts it holds calls, then answers them: the write lands, as after a real timeout.
The control API is described on :class:`ApiFaults`.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

PATH = "/_standin/faults"
TARGET_PREFIX = "DynamoDB_20120810."

# The bodies and statuses DynamoDB sends (botocore reads ``__type`` for the error code).
ERRORS: dict[str, tuple[int, str, str]] = {
    "ProvisionedThroughputExceededException": (
        400, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded. "
        "Consider increasing your provisioning level with the UpdateTable API."),
    "ThrottlingException": (
        400, "com.amazon.coral.availability#ThrottlingException", "Rate of requests exceeds the allowed throughput."),
    "InternalServerError": (500, "com.amazonaws.dynamodb.v20120810#InternalServerError", "Internal server error"),
}

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class FaultSpecError(ValueError):
    """A control request that does not describe a fault."""


def _operations(data: dict[str, Any]) -> list[str]:
    """The optional ``operations`` list of a control request (empty: every operation)."""
    ops = data.get("operations") or []
    if not isinstance(ops, list) or not all(isinstance(o, str) and o.isalnum() for o in ops):
        raise FaultSpecError("operations must be a list of operation names such as PutItem")
    return ops


@dataclass
class FaultSpec:
    """The fault in force: which share of which operations get which error, or which calls are held."""

    error_rate: float
    code: str
    operations: list[str] = field(default_factory=list)  # empty: every operation
    burst: int = 0        # > 0: intermittent timeouts instead of errors
    every_s: float = 0.0
    delay_ms: int = 0

    @classmethod
    def parse(cls, raw: bytes) -> FaultSpec:
        try:
            data = json.loads(raw or b"{}")
        except (ValueError, RecursionError):
            raise FaultSpecError("the body is not valid JSON") from None
        if isinstance(data, dict) and "burst" in data:
            return cls._parse_burst(data)
        if not isinstance(data, dict) or set(data) - {"error_rate", "code", "operations"}:
            raise FaultSpecError('expected {"error_rate": 0..1, "code": ..., "operations": [...]} or '
                                 '{"burst": N, "every_s": S, "delay_ms": MS}')
        rate = data.get("error_rate")
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 1:
            raise FaultSpecError("error_rate must be a number above 0 and at most 1")
        code = data.get("code", "ProvisionedThroughputExceededException")
        if code not in ERRORS:
            raise FaultSpecError(f"code must be one of {', '.join(sorted(ERRORS))}")
        return cls(float(rate), code, _operations(data))

    @classmethod
    def _parse_burst(cls, data: dict[str, Any]) -> FaultSpec:
        if set(data) - {"burst", "every_s", "delay_ms", "operations"}:
            raise FaultSpecError('expected {"burst": N, "every_s": S, "delay_ms": MS, "operations": [...]}')
        burst, every, delay = data.get("burst"), data.get("every_s"), data.get("delay_ms", 1000)
        if isinstance(burst, bool) or not isinstance(burst, int) or not 0 < burst <= 10_000:
            raise FaultSpecError("burst must be a whole number of calls, 1 to 10000")
        if isinstance(every, bool) or not isinstance(every, int | float) or not 0 < every <= 3600:
            raise FaultSpecError("every_s must be a number of seconds above 0 and at most 3600")
        if isinstance(delay, bool) or not isinstance(delay, int) or not 0 < delay <= 30_000:
            raise FaultSpecError("delay_ms must be a whole number of milliseconds, 1 to 30000")
        return cls(0.0, "", _operations(data), burst, float(every), delay)


class ApiFaults:
    """WSGI middleware: the control API, and the forged answers while a fault is set.

    Control API (JSON), next to moto on the stand-in's port:

    * ``PUT /_standin/faults`` ``{"error_rate": 0.2, "code": "ProvisionedThroughputExceededException",
      "operations": ["PutItem"]}`` (``operations`` optional: default every operation);
    * ``PUT /_standin/faults`` ``{"burst": 3, "every_s": 10, "delay_ms": 1000}``: intermittent
      timeouts -- the first ``burst`` calls of every ``every_s`` window (counted from the PUT)
      are held ``delay_ms`` and then answered normally, so a caller with a shorter timeout
      times out on exactly that many calls per window, however heavy the load;
    * ``GET /_standin/faults``: the settings and how many calls were seen and failed;
    * ``DELETE /_standin/faults``: back to healthy.
    """

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self._lock = threading.Lock()
        self.spec: FaultSpec | None = None
        self.seen = 0
        self.failed = 0
        self._since, self._window, self._in_window = time.monotonic(), -1, 0  # burst windows

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == PATH:
            return self._control(environ, start_response)
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        action = self._action(target[len(TARGET_PREFIX):]) if target.startswith(TARGET_PREFIX) else None
        if isinstance(action, float):
            time.sleep(action)  # held, then answered: the write still lands, as after a real timeout
        elif action is not None:
            status, kind, message = ERRORS[action]
            return self._answer(start_response, status, {"__type": kind, "message": message},
                                "application/x-amz-json-1.0")
        return self.app(environ, start_response)

    def _action(self, operation: str) -> str | float | None:
        """The error code to answer, the seconds to hold the call, or None to pass it through."""
        with self._lock:
            spec = self.spec
            if spec is None or (spec.operations and operation not in spec.operations):
                return None
            self.seen += 1
            if spec.burst:
                window = int((time.monotonic() - self._since) // spec.every_s)
                if window != self._window:
                    self._window, self._in_window = window, 0
                if self._in_window < spec.burst:
                    self._in_window += 1
                    self.failed += 1
                    return spec.delay_ms / 1000.0
                return None
            due = int(self.seen * spec.error_rate + 1e-9)
            if due > self.failed:
                self.failed += 1
                return spec.code
            return None

    def _state(self) -> dict[str, Any]:
        return {"fault": asdict(self.spec) if self.spec else None, "seen": self.seen, "failed": self.failed}

    def _control(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "PUT":
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                spec = FaultSpec.parse(environ["wsgi.input"].read(min(max(length, 0), 65536)))
            except (FaultSpecError, ValueError) as exc:
                return self._answer(start_response, 400, {"error": "bad_fault", "detail": str(exc)})
            with self._lock:
                self.spec, self.seen, self.failed = spec, 0, 0
                self._since, self._window, self._in_window = time.monotonic(), -1, 0
        elif method == "DELETE":
            with self._lock:
                self.spec = None
        elif method != "GET":
            return self._answer(start_response, 405, {"error": "method_not_allowed", "detail": "GET, PUT or DELETE"})
        with self._lock:
            return self._answer(start_response, 200, self._state())

    @staticmethod
    def _answer(start_response: StartResponse, status: int, body: dict[str, Any],
                content_type: str = "application/json") -> list[bytes]:
        data = json.dumps(body).encode()
        reason = {200: "OK", 400: "Bad Request", 405: "Method Not Allowed", 500: "Internal Server Error"}[status]
        start_response(f"{status} {reason}", [("Content-Type", content_type), ("Content-Length", str(len(data))),
                                              ("x-amzn-RequestId", uuid.uuid4().hex.upper())])
        return [data]
