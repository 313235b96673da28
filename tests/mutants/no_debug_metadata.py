"""Replies are 200 with the right answer but without the contract's ``debug_metadata``."""

from __future__ import annotations

from typing import Any

from tests.mutants.base import Mutant, rewrite_chat


async def _strip(status: int, body: dict[str, Any] | None) -> tuple[int, dict[str, Any] | None]:
    if isinstance(body, dict):
        body.pop("debug_metadata", None)
    return status, body


MUTANT = Mutant(
    name="no_debug_metadata",
    breaks="chat replies lack debug_metadata (memory_mode, level, ...), a contract field",
    must_fail=("requests.baseline.failed", "requests.fault.failed", "requests.recovery.failed"),
    wrap=rewrite_chat(_strip),
)
