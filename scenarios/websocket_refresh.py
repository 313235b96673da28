"""WebSocketRefreshUser: chat over ``/ws`` with a page refresh mid-conversation.

The design says a refreshed page reconnects the WebSocket with the same session
cookie and the history is loaded fresh, so the conversation continues. This
user follows a script over a raw WebSocket, closes the connection just before
the script's last reference turn (the "refresh"), reconnects with the same
cookie, and the reference turn must still resolve. Scenario ``websocket``.
"""

from __future__ import annotations

import locust  # must be imported before anything that pulls in requests/boto3
from locust import User, task

from harness.loadgen import recorder  # noqa: F401  # registers the recording plugin
from harness.loadgen.conversation import Session, WSClient, pick_script, think, user_rng


class WebSocketRefreshUser(User):
    """A browser tab on ``/ws`` that is refreshed once per conversation."""

    scenario = "websocket"

    def on_start(self) -> None:
        self.rng = user_rng(self)
        if not self.host:
            raise locust.exception.StopUser()
        self.ws = WSClient(self.environment, self.host)

    def on_stop(self) -> None:
        self.ws.close()

    @task
    def converse(self) -> None:
        script = pick_script(self.rng)
        session = Session(script, scenario=self.scenario)
        refs = script.reference_turns()
        refresh_before = refs[-1] if refs else len(script.turns) // 2
        name = type(self).__name__
        if not self.ws.connect(session, name):
            think(self, self.rng)
            return
        while not session.done:
            if session.index == refresh_before and session.index > 0:
                self.ws.close()  # page refresh: the socket goes away, the cookie stays
                if not self.ws.connect(session, name):
                    break
            if self.ws.turn(session, name) is None:
                break
            think(self, self.rng)
        self.ws.close()
