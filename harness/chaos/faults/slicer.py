"""Replies arrive in ``value``-byte fragments: a parser that assumes one read per message breaks."""

from __future__ import annotations

from dataclasses import dataclass

from harness.chaos.faults.network import ToxicFault


@dataclass
class SlicerFault(ToxicFault):
    """``slicer``: chunks cut to about ``value`` bytes (± half), 1 ms apart; a correct client still succeeds."""

    toxic_type = "slicer"
    param = "average_size"
    unit = "B"
    default = 16
    fails_calls = False

    def attributes(self) -> dict[str, int]:
        return {"average_size": self.value, "size_variation": self.value // 2, "delay": 1000}  # delay in µs
