"""One ``POST /chat`` in twenty (5 %) answers 503 without running the turn; the rest are honest.

Too few failures to trip the early abort: only the per-phase request-outcome
checks, whose target is 0 failed turns, can catch it.
"""

from __future__ import annotations

import itertools

from tests.mutants.base import ASGIApp, Mutant, Receive, Scope, Send, is_chat, send_json

EVERY = 20


def _wrap(app: ASGIApp) -> ASGIApp:
    counter = itertools.count(1)

    async def mutated(scope: Scope, receive: Receive, send: Send) -> None:
        if is_chat(scope) and next(counter) % EVERY == 0:
            await send_json(send, 503, {"error": "unavailable", "detail": "mutant: 1 turn in 20 is refused"})
            return
        await app(scope, receive, send)

    return mutated


MUTANT = Mutant(
    name="http_503_some",
    breaks="5 % of chat replies are HTTP 503 (one in twenty), the rest are correct",
    must_fail=("requests.baseline.failed", "requests.recovery.failed"),
    wrap=_wrap,
)
