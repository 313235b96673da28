"""A tiny, fast stand-in for the reference service's HTTP API (docs/contracts.md), for loadgen tests.

It speaks just enough HTTP/1.1 (keep-alive, Content-Length) over asyncio to
serve thousands of requests/s on loopback, so Locust -- not the server -- is
the bottleneck in the recorder benchmark. ``POST /chat`` keeps per-cookie
history and answers deterministically: recommendation requests get the
design's list, ordinal follow-ups resolve against the session's last list,
anything else gets the generic sentence. ``GET /stats`` reports how many chat
replies were sent and when (used by the kill -9 test).

Run: ``python tests/loadgen/fakesvc.py --port-file PATH`` (binds 127.0.0.1:0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

LIST = "Here are my top 3: (1) Berserk, (2) Vinland Saga, (3) Claymore."
TITLES = ["Berserk", "Vinland Saga", "Claymore"]
ORDINALS = {"first": 0, "second": 1, "third": 2}
GENERIC = "I can help you find manga, compare editions and check formats."


class State:
    def __init__(self) -> None:
        self.sessions: dict[str, dict[str, object]] = {}
        self.reply_times: list[float] = []


def answer(state: State, cookie: str | None, message: str) -> tuple[dict[str, object], str | None]:
    sid = cookie.split("=", 1)[1] if cookie and cookie.startswith("session=") else None
    new_cookie = None
    if sid not in state.sessions:
        sid = str(uuid.uuid4())
        state.sessions[sid] = {"turns": 0, "list": None}
        new_cookie = f"session={sid}; HttpOnly; Secure; SameSite=Strict; Path=/"
    sess = state.sessions[sid]
    sess["turns"] = int(sess["turns"]) + 1  # type: ignore[call-overload]
    low = message.lower()
    reply = GENERIC
    if "recommend" in low:
        reply, sess["list"] = LIST, TITLES
    else:
        for word, idx in ORDINALS.items():
            if word in low and sess["list"]:
                reply = f"{TITLES[idx]} is a fine choice."
    body = {
        "session_id": sid,
        "turn_number": sess["turns"],
        "response": reply,
        "intent": "other",
        "resolved_query": message,
        "persisted": True,
        "debug_metadata": {
            "memory_mode": "full",
            "level": 0,
            "reason": None,
            "history_source": "redis",
            "turns_loaded": 0,
        },
    }
    return body, new_cookie


class Http(asyncio.Protocol):
    def __init__(self, state: State) -> None:
        self.state = state
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buf[:head_end].decode("latin-1").split("\r\n")
            headers = {}
            for line in head[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            length = int(headers.get("content-length", "0"))
            if len(self.buf) < head_end + 4 + length:
                return
            body = self.buf[head_end + 4 : head_end + 4 + length]
            self.buf = self.buf[head_end + 4 + length :]
            self.handle(head[0], headers, body)

    def send(self, status: str, body: bytes, extra: str = "") -> None:
        assert self.transport is not None
        head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.transport.write((head + extra + "\r\n").encode() + body)

    def handle(self, request_line: str, headers: dict[str, str], body: bytes) -> None:
        method, path = ([*request_line.split(" "), "", ""])[:2]
        if method == "POST" and path == "/chat":
            try:
                message = json.loads(body)["message"]
            except (ValueError, KeyError, TypeError):
                self.send("400 Bad Request", b'{"error":"bad_request","detail":"need {\\"message\\": ...}"}')
                return
            cookie = next(
                (c.strip() for c in headers.get("cookie", "").split(";") if c.strip().startswith("session=")), None
            )
            payload, new_cookie = answer(self.state, cookie, str(message))
            extra = f"Set-Cookie: {new_cookie}\r\n" if new_cookie else ""
            self.send("200 OK", json.dumps(payload).encode(), extra)
            self.state.reply_times.append(time.time())
        elif path == "/stats":
            self.send(
                "200 OK", json.dumps({"count": len(self.state.reply_times), "times": self.state.reply_times}).encode()
            )
        elif path == "/healthz":
            self.send("200 OK", b'{"status":"ok","variant":"fake"}')
        else:
            self.send("404 Not Found", b'{"error":"not_found","detail":""}')


async def main(port_file: str | None) -> None:
    state = State()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Http(state), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    if port_file:
        with open(port_file + ".tmp", "w") as f:
            f.write(str(port))
        import os

        os.replace(port_file + ".tmp", port_file)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(args.port_file))
