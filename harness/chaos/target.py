"""What an external ``--target``'s breaker is configured to do, learned before the run.

Why: the breaker analyzer judges openings and closings against the breaker's
own timings. Assuming them ("``--quick`` means a 3 s open state") would judge a
user's service against numbers it never claimed. The target's
``/debug/memory`` says what it runs with; ``--breaker`` can state it for a
service without that endpoint, and when both exist they must agree.
"""

from __future__ import annotations

import httpx

from harness.breaker_timings import BreakerTimings
from harness.durations import DurationError, parse_duration
from harness.state import Component

#: The backend name of a ``--dynamodb-url`` that answers our DynamoDB stand-in's control API.
PROBED_STANDIN = "harness-standin"

KEYS = ("threshold", "window_s", "open_s", "timeout_ms")
_FLAG_KEYS = {"threshold": "threshold", "window": "window_s", "open": "open_s", "timeout": "timeout_ms"}


class TargetError(ValueError):
    """The target's breaker timings are unknown, malformed, or disagree with ``--breaker``."""


def parse_breaker_flag(text: str) -> BreakerTimings:
    """``threshold=5,window=10s,open=30s,timeout=200ms`` -> the timings it states."""
    out: dict[str, float] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in _FLAG_KEYS:
            raise TargetError(f"--breaker: expected threshold=N,window=DUR,open=DUR,timeout=DUR, got {part!r}")
        try:
            if key == "threshold":
                number = float(int(value))
                if number < 1:
                    raise ValueError
            else:
                number = parse_duration(value) * (1000.0 if key == "timeout" else 1.0)
        except (ValueError, DurationError):
            raise TargetError(f"--breaker: bad value for {key}: {value!r}") from None
        out[_FLAG_KEYS[key]] = number
    missing = [k for k in _FLAG_KEYS if _FLAG_KEYS[k] not in out]
    if missing:
        raise TargetError(f"--breaker: missing {', '.join(missing)}")
    return BreakerTimings.from_json(out)


class Unreachable(Exception):
    """Nothing answered at the target at all (the run's own preflight will say so and fail it)."""


def advertised(target: str, timeout_s: float = 3.0) -> BreakerTimings | None:
    """The breaker config from ``<target>/debug/memory`` (None when the target does not say)."""
    try:
        resp = httpx.get(f"{target}/debug/memory", timeout=timeout_s)
    except httpx.TransportError as exc:
        raise Unreachable(str(exc)) from None
    try:
        data = resp.json() if resp.status_code == 200 else None
    except ValueError:
        return None
    cfg = ((data or {}).get("breaker") or {}).get("config") if isinstance(data, dict) else None
    if not isinstance(cfg, dict):
        return None
    if any(k not in cfg for k in KEYS):
        return None
    try:
        return BreakerTimings.from_json(cfg)
    except ValueError:
        return None


def breaker_of_target(target: str, flagged: BreakerTimings | None,
                      fallback: BreakerTimings) -> BreakerTimings:
    """The timings the analyzers should expect: the target's own, checked against ``--breaker``.

    A target nothing answers at gets ``flagged`` or ``fallback``: the run's
    preflight fails it at once, and no timing will ever be judged.
    """
    try:
        seen = advertised(target)
    except Unreachable:
        return flagged or fallback
    if seen is not None and flagged is not None:
        mine, theirs = flagged.to_json(), seen.to_json()
        diff = [f"{k} {mine[k]:g} vs {theirs[k]:g}" for k in KEYS if abs(mine[k] - theirs[k]) > 1e-9]
        if diff:
            raise TargetError(f"--breaker disagrees with {target}/debug/memory: " + ", ".join(diff))
    if seen is not None:
        return seen
    if flagged is not None:
        return flagged
    raise TargetError(f"cannot learn the breaker's timings from {target}/debug/memory; pass "
                      "--breaker threshold=5,window=10s,open=30s,timeout=200ms")


def external_components(dynamodb_url: str | None, timeout_s: float = 3.0) -> dict[str, Component]:
    """What a ``--target`` run knows of the stack behind the service, for faults to bind to.

    A ``--dynamodb-url`` that answers ``GET /_standin/faults`` with our stand-in's
    settings is our stand-in: its control API can forge throttling, errors and
    held calls for a service we did not start. Anything else is only a URL.
    """
    if not dynamodb_url:
        return {}
    try:
        resp = httpx.get(f"{dynamodb_url}/_standin/faults", timeout=timeout_s)
        body = resp.json() if resp.status_code == 200 else None
        ours = isinstance(body, dict) and {"fault", "seen", "failed"} <= set(body)
    except (httpx.HTTPError, ValueError):
        ours = False
    return {"dynamodb": Component(backend=PROBED_STANDIN if ours else "url", url=dynamodb_url)}
