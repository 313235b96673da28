"""Helpers for the language-layer tests: build history the way the service does.

A plain module (not conftest) so test files can import it; pytest's default
prepend import mode puts this directory on sys.path.
"""

from __future__ import annotations

from harness.standins.compose import compose_reply
from reference_service.nlu import build_prompt, retrieve, understand
from reference_service.turns import Turn


def make_turn(n: int, user: str, reply: str, intent: str = "other") -> Turn:
    """A history turn with the schema's bookkeeping fields filled in."""
    return Turn("sess-test", n, None, 1_700_000_000 + n, user, reply, intent, 1_700_086_400 + n)


class Conversation:
    """Runs messages through understand -> retrieve -> build_prompt -> compose_reply."""

    def __init__(self) -> None:
        self.history: list[Turn] = []

    def say(self, message: str) -> tuple[str, object]:
        u = understand(message, self.history)
        docs = retrieve(u, k=5)
        prompt = build_prompt(self.history, u, docs)
        reply = compose_reply(prompt.system, prompt.messages)
        self.history.append(make_turn(len(self.history) + 1, message, reply, u.intent))
        return reply, u
