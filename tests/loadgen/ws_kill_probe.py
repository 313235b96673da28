"""Child process for ``test_wsclient.py``: kill a WebSocket user while it waits in the close handshake.

Locust ends a run by raising gevent's ``GreenletExit`` in every user greenlet
wherever it is blocked, then waits for the greenlets to die. This probe runs
the real :class:`~harness.loadgen.conversation.WSClient` in a connect/close
loop against a real TCP WebSocket peer that never answers the close frame (a
stalled service), so the client spends nearly all its time inside ``close()``;
then it kills the loop's greenlet the way Locust does and reports, as one JSON
line on stdout, whether the greenlet died. It runs in its own process because
it needs gevent's monkey-patching, which must not leak into the pytest process.

Run: ``python tests/loadgen/ws_kill_probe.py`` (binds 127.0.0.1:0; always exits).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import time
from typing import Any

import gevent
import locust  # noqa: F401  # gevent monkey-patching first
from gevent.server import StreamServer
from gevent.socket import socket as GeventSocket
from locust.env import Environment

from harness.loadgen.conversation import Session, WSClient, pick_script

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CLOSE_TIMEOUT_S = 2.0  # the peer never answers, so every close() waits this long
KILL_AFTER_S = 0.4  # the loop is then inside close(), waiting for the peer's close frame
KILL_TIMEOUT_S = 3.0  # Locust waits forever; a dead-in-time greenlet is what we check


def silent_peer(conn: GeventSocket, address: tuple[str, int]) -> None:
    """Accept the WebSocket upgrade, then read and ignore everything (never send a close frame)."""
    conn.settimeout(15)
    try:
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = conn.recv(4096)
            if not chunk:
                return
            request += chunk
        key = ""
        for line in request.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "sec-websocket-key":
                key = value.strip()
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        conn.sendall(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
            ).encode()
        )
        while conn.recv(4096):
            pass
    except OSError:
        pass
    finally:
        conn.close()


def main() -> dict[str, Any]:
    server = StreamServer(("127.0.0.1", 0), silent_peer)
    server.start()
    client = WSClient(Environment(), f"http://127.0.0.1:{server.server_port}", timeout_s=5.0,
                      close_timeout_s=CLOSE_TIMEOUT_S)
    session = Session(pick_script(random.Random(0)), scenario="websocket")
    state: dict[str, Any] = {"connects": 0, "in_close": False}

    # A close that the peer never answers still returns, after the client's close timeout.
    quick = WSClient(Environment(), f"http://127.0.0.1:{server.server_port}", timeout_s=5.0, close_timeout_s=0.5)
    if not quick.connect(session, "Probe"):
        raise RuntimeError("could not connect to the silent peer")
    t0 = time.perf_counter()
    quick.close()
    unanswered_close_s = time.perf_counter() - t0

    def user_loop() -> None:
        # What WebSocketRefreshUser does with --think-time 0: connect, talk, close, again.
        while True:
            if not client.connect(session, "Probe"):
                raise RuntimeError("could not connect to the silent peer")
            state["connects"] += 1
            state["in_close"] = True
            client.close()
            state["in_close"] = False

    user = gevent.spawn(user_loop)
    gevent.sleep(KILL_AFTER_S)
    killed_in_close = bool(state["in_close"])
    user.kill(block=True, timeout=KILL_TIMEOUT_S)
    result = {
        "killed_in_close": killed_in_close,
        "dead": user.dead,
        "exit": type(user.value).__name__ if user.dead else None,
        "connects": state["connects"],
        "socket_dropped": client.ws is None,
        "unanswered_close_s": unanswered_close_s,
    }
    if not user.dead:
        user.kill(block=False)  # leave no loop behind; the process exits below anyway
    server.stop(timeout=1)
    return result


if __name__ == "__main__":
    print(json.dumps(main()), flush=True)
    os._exit(0)  # a greenlet that survived its kill must not keep the process alive
