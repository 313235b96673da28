"""reset_peer: on the first data (or EOF), wait ``timeout`` ms, then reset.

Why: simulates a peer that crashes or a middlebox that kills the flow.  As in
Toxiproxy, the TCP RST comes from ``SO_LINGER 0`` armed on both sockets when a
connection *starts* with a reset_peer toxic present; a reset_peer added to an
already open connection closes it with a plain FIN.  A connection that never
sends anything is never reset.  The wait ignores interruption (Go does too).
"""

from __future__ import annotations

from typing import ClassVar

from harness.toxiproxy.toxics.base import StubAPI, Toxic, register


@register
class ResetPeerToxic(Toxic):
    """Drop data and reset the connection ``timeout`` ms after first activity."""

    type_name: ClassVar[str] = "reset_peer"
    go_struct: ClassVar[str] = "ResetToxic"
    schema: ClassVar[dict[str, type]] = {"timeout": int}

    async def pipe(self, stub: StubAPI) -> None:
        await stub.recv()
        await stub.sleep_uninterruptible(self.int_attr("timeout") / 1000.0)
        stub.close()
