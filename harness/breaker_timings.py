"""The breaker's timings, as one value that the stack, the run and the analyzers share.

Why: the service is started with these numbers, ``run.json`` records them, and
the breaker analyzer judges every opening and closing against them. Kept as
one frozen dataclass, the three can never disagree about a default, and the
failure threshold stays an integer end to end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class BreakerTimings:
    """Open after ``threshold`` failures within ``window_s``; stay open ``open_s``; each call times out."""

    threshold: int
    window_s: float
    open_s: float
    timeout_ms: float

    def to_json(self) -> dict[str, float]:
        """The ``run.json`` / stack-state ``breaker`` mapping."""
        return {"threshold": self.threshold, "window_s": self.window_s, "open_s": self.open_s,
                "timeout_ms": self.timeout_ms}

    @classmethod
    def from_json(cls, data: object, default: BreakerTimings | None = None) -> BreakerTimings:
        """Read a ``breaker`` mapping; keys it lacks (or a non-mapping) take ``default``'s values.

        Raises ``ValueError`` for a value that is not a number.
        """
        base = default or DESIGN
        if not isinstance(data, Mapping):
            return base
        try:
            return cls(threshold=int(data.get("threshold", base.threshold)),
                       window_s=float(data.get("window_s", base.window_s)),
                       open_s=float(data.get("open_s", base.open_s)),
                       timeout_ms=float(data.get("timeout_ms", base.timeout_ms)))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"breaker timings: {exc}") from None


#: The design's breaker: 5 failures within 10 s, open for 30 s, 200 ms per call.
DESIGN = BreakerTimings(threshold=5, window_s=10.0, open_s=30.0, timeout_ms=200.0)
#: ``--quick``: the same rule, with a window and an open state short enough for a 30 s run.
QUICK = BreakerTimings(threshold=5, window_s=5.0, open_s=3.0, timeout_ms=200.0)
