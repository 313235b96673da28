"""limit_data: pass at most ``bytes`` bytes on the link, cutting the last chunk, then close.

Why stateful: the byte count belongs to the connection, not to one run of
the toxic, so updating the limit on a live connection keeps what was already
sent (Go's StatefulToxic).  ``bytes = 0`` closes on the first data or EOF.
"""

from __future__ import annotations

from typing import Any, ClassVar

from harness.toxiproxy.stream import Chunk
from harness.toxiproxy.toxics.base import StubAPI, Toxic, register


class LimitDataState:
    """Bytes already transmitted on this link."""

    __slots__ = ("transmitted",)

    def __init__(self) -> None:
        self.transmitted = 0


@register
class LimitDataToxic(Toxic):
    """Close the link after ``bytes`` bytes."""

    type_name: ClassVar[str] = "limit_data"
    go_struct: ClassVar[str] = "LimitDataToxic"
    schema: ClassVar[dict[str, type]] = {"bytes": int}

    def new_state(self) -> Any:
        return LimitDataState()

    async def pipe(self, stub: StubAPI) -> None:
        state: LimitDataState = stub.state
        limit = self.int_attr("bytes")
        while True:
            chunk = await stub.recv()
            if chunk is None:
                stub.close()
                return
            remaining = max(0, limit - state.transmitted)
            if remaining < len(chunk.data):
                chunk = Chunk(chunk.data[:remaining], chunk.ts)
            if chunk.data:
                stub.send(chunk)
                state.transmitted += len(chunk.data)
            if limit - state.transmitted <= 0:
                stub.close()
                return
