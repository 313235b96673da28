"""Every ``POST /chat`` answers 503; health, metrics and /debug/memory still work."""

from __future__ import annotations

from tests.mutants.base import Mutant, Receive, Scope, Send, replace_chat, send_json


async def _unavailable(scope: Scope, receive: Receive, send: Send) -> None:
    await send_json(send, 503, {"error": "unavailable", "detail": "mutant: every chat turn is refused"})


MUTANT = Mutant(
    name="http_503",
    breaks="every chat reply is HTTP 503 (the service is up, the product is not)",
    must_fail=("requests.early_abort", "requests.baseline.failed"),
    wrap=replace_chat(_unavailable),
    max_seconds=45.0,
)
