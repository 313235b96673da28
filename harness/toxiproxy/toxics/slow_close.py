"""slow_close: data passes untouched; the close after EOF is delayed ``delay`` ms.

Why: models peers that linger before closing (the client sees its EOF late).
If the toxic is updated or removed during the wait, the EOF is given back to
the input so the replacement (or the removal flush) still delivers it.
"""

from __future__ import annotations

from typing import ClassVar

from harness.toxiproxy.toxics.base import StubAPI, Toxic, register


@register
class SlowCloseToxic(Toxic):
    """Delay the end-of-stream by ``delay`` ms."""

    type_name: ClassVar[str] = "slow_close"
    go_struct: ClassVar[str] = "SlowCloseToxic"
    schema: ClassVar[dict[str, type]] = {"delay": int}

    async def pipe(self, stub: StubAPI) -> None:
        while True:
            chunk = await stub.recv()
            if chunk is None:
                if not await stub.sleep(self.int_attr("delay") / 1000.0):
                    stub.unrecv([None])
                    return
                stub.close()
                return
            stub.send(chunk)
