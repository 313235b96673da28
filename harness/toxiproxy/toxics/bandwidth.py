"""bandwidth: limit a link to ``rate`` KB/s (1 KB = 1000 B).

Why this shape: it is Toxiproxy's algorithm — sleep ``len/rate`` per chunk,
split chunks larger than 100 ms worth of data and send them in 100 ms
slices, and carry the timer overshoot into the next sleep so long transfers
converge on the exact rate.  ``rate <= 0`` means unlimited.
"""

from __future__ import annotations

from typing import ClassVar

from harness.toxiproxy.stream import Chunk
from harness.toxiproxy.toxics.base import StubAPI, Toxic, register


@register
class BandwidthToxic(Toxic):
    """Throttle throughput to ``rate`` KB/s."""

    type_name: ClassVar[str] = "bandwidth"
    go_struct: ClassVar[str] = "BandwidthToxic"
    schema: ClassVar[dict[str, type]] = {"rate": int}

    async def pipe(self, stub: StubAPI) -> None:
        rate = self.int_attr("rate")  # bytes per millisecond
        debt = 0.0  # seconds still owed
        while True:
            chunk = await stub.recv()
            if chunk is None:
                stub.close()
                return
            if rate <= 0:
                stub.send(chunk)
                continue
            debt += len(chunk.data) / (rate * 1000.0)
            data = chunk.data
            slice_size = rate * 100  # bytes per 100 ms
            while len(data) > slice_size:
                if not await stub.sleep(0.1):
                    stub.send(Chunk(data, chunk.ts))
                    return
                stub.send(Chunk(data[:slice_size], chunk.ts))
                data = data[slice_size:]
                debt -= 0.1
            start = stub.now()
            if debt > 0 and not await stub.sleep(debt):
                stub.send(Chunk(data, chunk.ts))
                return
            debt -= stub.now() - start
            stub.send(Chunk(data, chunk.ts))
