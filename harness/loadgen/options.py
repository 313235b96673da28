"""Custom Locust arguments and service discovery.

Users drive the scenarios with Locust's own flags and web UI; the few knobs
Locust lacks (arrival rate, record directory, Zipf population and exponent,
think time) are added here through ``init_command_line_parser`` so they show in
``--help`` and in the web UI, and travel from master to workers with the spawn
message like any custom argument.

Without ``--host``, the target is the service of the running ``harness up``
stack (docs/contracts.md, "Stack state file"); without either, :func:`resolve_host`
raises a clear error instead of letting Locust fail deep inside a user.
"""

from __future__ import annotations

import os
import time
from typing import Any

from harness.state import StackState, StateError, load_state, service_url, state_path


class OptionsError(ValueError):
    """A custom argument is out of range, or no target could be found."""


def default_record_dir() -> str:
    """``$HARNESS_RECORD_DIR`` or ``reports/locust-<timestamp>/records``."""
    env = os.environ.get("HARNESS_RECORD_DIR")
    if env:
        return env
    return os.path.join("reports", f"locust-{time.strftime('%Y%m%d-%H%M%S')}", "records")


def add_arguments(parser: Any) -> None:
    """Register the harness arguments on Locust's (configargparse) parser."""
    group = parser.add_argument_group("memory-chaos-harness")
    group.add_argument(
        "--arrival-rate",
        type=float,
        default=1.0,
        env_var="HARNESS_ARRIVAL_RATE",
        help="OpenArrivalUser: new sessions per second across the whole run (default 1.0)",
    )
    group.add_argument(
        "--open-pool-size",
        type=int,
        default=200,
        env_var="HARNESS_OPEN_POOL_SIZE",
        help="OpenArrivalUser: most concurrent sessions per process; starts beyond it are missed_start",
    )
    group.add_argument(
        "--record-dir",
        type=str,
        default="",
        env_var="HARNESS_RECORD_DIR",
        help="directory for records.jsonl (default reports/locust-<timestamp>/records)",
    )
    group.add_argument(
        "--zipf-population",
        type=int,
        default=1000,
        env_var="HARNESS_ZIPF_POPULATION",
        help="ZipfReturningUser: number of returning customers (default 1000)",
    )
    group.add_argument(
        "--zipf-s",
        type=float,
        default=1.2,
        env_var="HARNESS_ZIPF_S",
        help="ZipfReturningUser: Zipf exponent s (default 1.2)",
    )
    group.add_argument(
        "--harness-seed",
        type=int,
        default=-1,
        env_var="HARNESS_SEED",
        help="seed for every user's script and think-time choices (default -1: unseeded)",
    )
    group.add_argument(
        "--think-time",
        type=float,
        default=1.0,
        env_var="HARNESS_THINK_TIME",
        help="mean seconds a user waits between turns (uniform 0.5x..1.5x; 0 = none)",
    )


def validate(options: Any) -> None:
    """Reject out-of-range custom arguments with a message naming the flag."""
    checks = [
        (getattr(options, "arrival_rate", 1.0) > 0, "--arrival-rate must be > 0 sessions/s"),
        (getattr(options, "open_pool_size", 1) >= 1, "--open-pool-size must be >= 1"),
        (getattr(options, "zipf_population", 1) >= 1, "--zipf-population must be >= 1"),
        (getattr(options, "zipf_s", 1.2) > 0, "--zipf-s must be > 0"),
        (getattr(options, "think_time", 0.0) >= 0, "--think-time must be >= 0"),
    ]
    for ok, message in checks:
        if not ok:
            raise OptionsError(message)


def load_stack_state() -> StackState | None:
    """The ``harness up`` state (``harness.state.load_state``), with its errors as :class:`OptionsError`."""
    try:
        return load_state()
    except StateError as exc:
        raise OptionsError(str(exc)) from exc


def resolve_host(explicit: str | None) -> str:
    """``--host`` if given, else ``components.service.url`` of the running stack."""
    if explicit:
        return explicit.rstrip("/")
    state = load_stack_state()
    url = service_url(state) if state else None
    if not url:
        raise OptionsError(
            "no target: pass --host http://HOST:PORT, or start the stack with `harness up` "
            f"(no service URL in {state_path()})"
        )
    return str(url).rstrip("/")


__all__ = [
    "OptionsError",
    "add_arguments",
    "default_record_dir",
    "load_stack_state",
    "resolve_host",
    "validate",
]
