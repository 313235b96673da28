"""The link carries only ``value`` KB/s: small calls barely notice, a big history read crawls."""

from __future__ import annotations

from dataclasses import dataclass

from harness.chaos.faults.network import ToxicFault


@dataclass
class BandwidthFault(ToxicFault):
    """``bandwidth``: replies trickle at ``value`` KB/s, so a call fails only if it outlasts its timeout."""

    toxic_type = "bandwidth"
    param = "rate"
    unit = "KB/s"
    default = 1
    fails_calls = False
