"""Parsing of human durations such as ``500ms``, ``2s`` and ``1m``.

Fault and phase flags take durations in the units an SRE types. A bare number
is rejected on purpose: ``--dynamo-latency 2`` is ambiguous between seconds and
milliseconds, and a chaos run built on a misread unit measures the wrong thing.
"""

from __future__ import annotations

import re

_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class DurationError(ValueError):
    """A duration string that does not parse."""


def parse_duration(text: str) -> float:
    """Return seconds for ``text``; compound forms like ``1m30s`` are accepted.

    >>> parse_duration("500ms"), parse_duration("2s"), parse_duration("1m30s")
    (0.5, 2.0, 90.0)
    """
    raw = text.strip()
    if not raw:
        raise DurationError("empty duration")
    total = 0.0
    pos = 0
    # No spaces anywhere: "2 s" is rejected rather than guessed at, as Go's time.ParseDuration does.
    for match in re.finditer(r"(\d+(?:\.\d+)?|\.\d+)(us|µs|ms|s|m|h)", raw):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos == 0 or raw[pos:].strip():
        raise DurationError(f"invalid duration {text!r}: use a number with a unit, e.g. 500ms, 2s, 1m")
    return total


def format_duration(seconds: float) -> str:
    """Render seconds compactly for tables and reports (``0.5`` -> ``500ms``)."""
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    if seconds < 60 or seconds % 60:
        return f"{seconds:g}s"
    return f"{seconds / 60:g}m"


__all__ = ["DurationError", "format_duration", "parse_duration"]
