"""When each fault of a run is in force inside the fault phase: all of it, a window of it, or flapping.

A breaker rule such as "5 failures within 10 s" is only tested when failures
come and go. ``--flap 2s/3s`` applies the run's faults for 2 s, removes them for
3 s, and repeats until the fault phase ends. Each change is an apply or a
rollback of the same faults, and the runner records how late it landed.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.durations import DurationError, parse_duration


@dataclass(frozen=True)
class Flap:
    """On for ``on_s``, off for ``off_s``, repeated; the phase starts on."""

    on_s: float
    off_s: float

    @classmethod
    def parse(cls, text: str) -> Flap:
        """``2s/3s`` → on 2 s, off 3 s; raises ValueError with the reason."""
        on, sep, off = text.partition("/")
        if not sep:
            raise ValueError(f"invalid --flap {text!r}: use ON/OFF, e.g. 2s/3s")
        try:
            flap = cls(parse_duration(on), parse_duration(off))
        except DurationError as exc:
            raise ValueError(f"invalid --flap {text!r}: {exc}") from None
        if flap.on_s < 0.2 or flap.off_s < 0.2:
            raise ValueError(f"invalid --flap {text!r}: each half must be at least 200ms")
        return flap

    def edges(self, start: float, end: float) -> list[tuple[float, bool]]:
        """The changes after ``start`` and before ``end``: (when, faults on afterwards)."""
        out: list[tuple[float, bool]] = []
        t, on = start, True
        while True:
            t += self.on_s if on else self.off_s
            if t >= end - 1e-6:
                return out
            on = not on
            out.append((t, on))

    def describe(self) -> str:
        return f"flapping {self.on_s:g}s on / {self.off_s:g}s off"


@dataclass(frozen=True)
class Window:
    """When one fault is in force: from ``at_s`` into the fault phase, for ``for_s`` (None: to its end), maybe flapping.

    Why per fault: real incidents overlap (Redis fails over while DynamoDB is
    slow), so each fault keeps its own window; ``--at``, ``--for`` and ``--flap``
    set it for the faults of a command, an experiment file for each fault.
    """

    at_s: float = 0.0
    for_s: float | None = None
    flap: Flap | None = None

    def bounds(self, start: float, end: float) -> tuple[float, float]:
        """When the window opens and closes, clipped to the fault phase [start, end)."""
        on_at = min(start + self.at_s, end)
        off_at = end if self.for_s is None else min(end, on_at + self.for_s)
        return on_at, off_at

    def edges(self, start: float, end: float) -> list[tuple[float, bool, str]]:
        """Every change inside the fault phase: (when, on afterwards, why: ``window`` or ``flap``).

        The phase's own end is not an edge: the runner removes whatever is left then.
        """
        on_at, off_at = self.bounds(start, end)
        if on_at >= end - 1e-6:
            return []
        out: list[tuple[float, bool, str]] = [(on_at, True, "window")]
        if self.flap is not None:
            out += [(t, on, "flap") for t, on in self.flap.edges(on_at, off_at)]
        if off_at < end - 1e-6 and out[-1][1]:
            out.append((off_at, False, "window"))
        return out

    def describe(self) -> str:
        parts = []
        if self.at_s or self.for_s is not None:
            parts.append(f"from +{self.at_s:g}s" + (f" for {self.for_s:g}s" if self.for_s is not None else ""))
        if self.flap is not None:
            parts.append(self.flap.describe())
        return ", ".join(parts) or "constant"
