"""latency: delay every chunk by ``latency`` ms plus uniform ``jitter``.

Why pipelined: each chunk is released at *its own* read time plus the delay,
so a stream of writes keeps its throughput and spacing (5 writes 50 ms apart
through 300+200 ms of toxic take 0.70 s, not 2.5 s), exactly as Toxiproxy.
Latency toxics on the two links of a connection add up for a round trip.
"""

from __future__ import annotations

import random
from typing import ClassVar

from harness.toxiproxy.toxics.base import StubAPI, Toxic, register


@register
class LatencyToxic(Toxic):
    """Hold each chunk until ``read time + latency ± U(jitter)``."""

    type_name: ClassVar[str] = "latency"
    go_struct: ClassVar[str] = "LatencyToxic"
    schema: ClassVar[dict[str, type]] = {"latency": int, "jitter": int}

    def delay_s(self) -> float:
        """One draw of the delay in seconds (Go: latency + rand(2*jitter) - jitter)."""
        delay = self.int_attr("latency")
        jitter = self.int_attr("jitter")
        if jitter > 0:
            delay += random.randrange(2 * jitter) - jitter
        return delay / 1000.0

    async def pipe(self, stub: StubAPI) -> None:
        while True:
            chunk = await stub.recv()
            if chunk is None:
                stub.close()
                return
            release = chunk.ts + self.delay_s()
            if release > stub.now() and not await stub.sleep_until(release):
                # Interrupted (toxic updated or removed): hand the chunk on at once.
                stub.send(chunk)
                return
            chunk.ts = release
            stub.send(chunk)
