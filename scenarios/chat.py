"""ChatUser: multi-turn chat over HTTP, one scripted conversation per fresh session.

Each Locust user is a browser that opens a new session (no cookie, so a new
UUIDv4 session id), follows a random script from the corpus turn by turn, and
checks every reply; a wrong answer fails the Locust request. Scenario ``chat``.
"""

from __future__ import annotations

import locust  # noqa: F401  # must be imported before anything that pulls in requests/boto3
from locust import FastHttpUser, task

from harness.loadgen import recorder  # noqa: F401  # registers the recording plugin
from harness.loadgen.conversation import Session, disable_client_cookies, http_turn, pick_script, think, user_rng


class ChatUser(FastHttpUser):
    """A browser holding one conversation per session, closed loop."""

    scenario = "chat"

    def on_start(self) -> None:
        self.rng = user_rng(self)
        disable_client_cookies(self.client)

    @task
    def converse(self) -> None:
        session = Session(pick_script(self.rng), scenario=self.scenario)
        while not session.done:
            http_turn(self, session)
            think(self, self.rng)
