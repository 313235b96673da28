"""noop: passes every chunk through unchanged.

Why: it is also what a stub runs when the per-connection toxicity draw fails,
so it must honour EOF and interruption exactly like a real toxic.
"""

from __future__ import annotations

from typing import ClassVar

from harness.toxiproxy.toxics.base import StubAPI, Toxic, register


@register
class NoopToxic(Toxic):
    """Forward chunks unchanged."""

    type_name: ClassVar[str] = "noop"
    go_struct: ClassVar[str] = "NoopToxic"
    schema: ClassVar[dict[str, type]] = {}

    async def pipe(self, stub: StubAPI) -> None:
        while True:
            chunk = await stub.recv()
            if chunk is None:
                stub.close()
                return
            stub.send(chunk)
