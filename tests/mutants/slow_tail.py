"""One chat reply in 30 (about 3 %) is held back 1.5 s: a slow tail the median never shows."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from tests.mutants.base import Mutant, rewrite_chat

EVERY = 30
DELAY_S = 1.5
_count = itertools.count(1)


async def _maybe_slow(status: int, body: dict[str, Any] | None) -> tuple[int, dict[str, Any] | None]:
    if next(_count) % EVERY == 0:
        await asyncio.sleep(DELAY_S)
    return status, body


MUTANT = Mutant(
    name="slow_tail",
    breaks="3.3 % of chat replies are delayed 1.5 s (p50 unchanged, p99 > 1 s)",
    must_fail=("latency.baseline.p99", "latency.recovery.p99"),
    wrap=rewrite_chat(_maybe_slow),
)
