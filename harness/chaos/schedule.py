"""When the faults of a run are in force inside the fault phase: all of it, or flapping.

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
