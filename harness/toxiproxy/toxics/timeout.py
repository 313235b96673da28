"""timeout: hold all data; close the link ``timeout`` ms after the toxic starts.

Why: simulates a peer that accepts but never answers.  ``timeout = 0`` holds
forever.  Held chunks are given back to the input if the toxic is updated (so
the restarted toxic keeps holding them); *removing* the toxic closes the
connection (``cleanup``), as Toxiproxy does, since a client that has waited on
a black hole cannot resynchronise with data that arrives later.
"""

from __future__ import annotations

from typing import ClassVar

from harness.toxiproxy.stream import Chunk
from harness.toxiproxy.toxics.base import Interrupted, RecvTimeout, StubAPI, Toxic, register


@register
class TimeoutToxic(Toxic):
    """Black-hole the link, then close it after ``timeout`` ms (0 = never)."""

    type_name: ClassVar[str] = "timeout"
    go_struct: ClassVar[str] = "TimeoutToxic"
    schema: ClassVar[dict[str, type]] = {"timeout": int}

    async def pipe(self, stub: StubAPI) -> None:
        timeout_ms = self.int_attr("timeout")
        deadline = stub.now() + timeout_ms / 1000.0 if timeout_ms > 0 else None
        held: list[Chunk | None] = []
        try:
            while True:
                chunk = await stub.recv(deadline)
                if chunk is None:
                    stub.close()
                    return
                held.append(chunk)
        except RecvTimeout:
            stub.close()
        except Interrupted:
            stub.unrecv(held)
            raise

    def cleanup(self, stub: StubAPI) -> None:
        stub.close()
