"""A handful of chat requests (the 100th, the 200th, then every 500th) are accepted and never answered.

The client's 60 s timeout outlasts the run, so those requests are still in
flight when the load stops: only the harness's "in flight at stop = timeout"
record can reveal them.
"""

from __future__ import annotations

import itertools

from tests.mutants.base import ASGIApp, Mutant, Receive, Scope, Send, is_chat, until_disconnect

_count = itertools.count(1)


def _hangs(n: int) -> bool:
    # two in the first 200 turns (the baseline holds >= 200 even on a busy machine), then a few more:
    # each hung request parks one of the 20 simulated users for the rest of the run
    return n in (100, 200) or n % 500 == 0


def _wrap(app: ASGIApp) -> ASGIApp:
    async def mutated(scope: Scope, receive: Receive, send: Send) -> None:
        if is_chat(scope) and _hangs(next(_count)):
            await until_disconnect(receive)
            return
        await app(scope, receive, send)

    return mutated


MUTANT = Mutant(
    name="hang_some",
    breaks="a few chat requests (#100, #200, every 500th) hang forever; the rest are fine",
    must_fail=("requests.baseline.failed",),
    wrap=_wrap,
)
