"""slicer: split chunks into pieces of about ``average_size`` ± ``size_variation``
bytes with ``delay`` µs between pieces.

Why: exercises clients' handling of partial reads (a RESP reply or HTTP
header arriving in fragments).  The split follows Toxiproxy's recursive
halving so the piece-size distribution matches; degenerate settings that
would make Go recurse forever (``average_size <= 0``) pass chunks through.
"""

from __future__ import annotations

import random
from typing import ClassVar

from harness.toxiproxy.stream import Chunk
from harness.toxiproxy.toxics.base import StubAPI, Toxic, register


@register
class SlicerToxic(Toxic):
    """Fragment chunks."""

    type_name: ClassVar[str] = "slicer"
    go_struct: ClassVar[str] = "SlicerToxic"
    schema: ClassVar[dict[str, type]] = {"average_size": int, "size_variation": int, "delay": int}
    go_int_type: ClassVar[str] = "int"

    def boundaries(self, size: int) -> list[tuple[int, int]]:
        """Piece boundaries for a chunk of ``size`` bytes, in order."""
        avg = self.int_attr("average_size")
        var = max(0, self.int_attr("size_variation"))
        if avg <= 0 or size <= 0:
            return [(0, size)]
        out: list[tuple[int, int]] = []
        stack = [(0, size)]
        while stack:
            start, end = stack.pop()
            if (end - start) - avg <= var or end - start <= 1:
                out.append((start, end))
                continue
            mid = start + (end - start) // 2
            if var > 0:
                mid += random.randrange(2 * var) - var
            mid = min(max(mid, start + 1), end - 1)
            stack.append((mid, end))
            stack.append((start, mid))
        return out

    async def pipe(self, stub: StubAPI) -> None:
        delay_s = self.int_attr("delay") / 1e6
        while True:
            chunk = await stub.recv()
            if chunk is None:
                stub.close()
                return
            data = chunk.data
            for start, end in self.boundaries(len(data)):
                stub.send(Chunk(data[start:end], chunk.ts))
                # Go waits after every piece, the last one included.
                if not await stub.sleep(delay_s):
                    if end < len(data):
                        stub.send(Chunk(data[end:], chunk.ts))
                    return
