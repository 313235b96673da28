"""``POST /chat`` accepts the connection and never answers."""

from __future__ import annotations

from tests.mutants.base import Mutant, Receive, Scope, Send, replace_chat, until_disconnect


async def _never(scope: Scope, receive: Receive, send: Send) -> None:
    await until_disconnect(receive)


MUTANT = Mutant(
    name="hang",
    breaks="every chat request hangs: accepted, never answered",
    # No reply within the runner's 20 s startup allowance ends the run before the
    # baseline starts, so the in-flight requests are judged over the whole run ("all").
    # (Until commit cd1a1cd this raised RuntimeError and wrote no verdict.json at all.)
    must_fail=("requests.early_abort", "requests.all.failed"),
    wrap=replace_chat(_never),
    max_seconds=45.0,
)
