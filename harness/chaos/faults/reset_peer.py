"""The dependency resets the connection (TCP RST) ``value`` ms after its first data: a crash mid-call."""

from __future__ import annotations

from dataclasses import dataclass

from harness.chaos.faults.network import ToxicFault


@dataclass
class ResetPeerFault(ToxicFault):
    """``reset_peer``: every affected call fails with a connection reset (0 ms: at once)."""

    toxic_type = "reset_peer"
    param = "timeout"
    unit = "ms"
    default = 0
    default_stream = "upstream"  # the request never reaches the server, so no write lands behind the caller
