"""Session identity: a UUIDv4 carried in a signed cookie.

Why signed: the design keeps the session id in an HttpOnly, Secure,
SameSite=Strict cookie.  Signing it (itsdangerous) means a client cannot pick
or guess someone else's session id (session fixation): a cookie we did not
issue — bad signature, garbage, not a UUIDv4 — simply starts a new session.
"""

from __future__ import annotations

import uuid

from itsdangerous import BadSignature, Signer

COOKIE_NAME = "session"


class SessionCodec:
    """Issues and verifies session cookies."""

    def __init__(self, secret: str) -> None:
        self._signer = Signer(secret, salt="refsvc-session")

    @staticmethod
    def new_id() -> str:
        """A fresh random (v4) session id."""
        return str(uuid.uuid4())

    def sign(self, session_id: str) -> str:
        """The cookie value for ``session_id``."""
        return self._signer.sign(session_id).decode()

    def verify(self, value: str | None) -> str | None:
        """The session id in a cookie we issued, else None."""
        if not value or len(value) > 512:
            return None
        try:
            raw = self._signer.unsign(value).decode()
            parsed = uuid.UUID(raw)
        except (BadSignature, ValueError, UnicodeDecodeError):
            return None
        if parsed.version != 4 or str(parsed) != raw:
            return None
        return raw

    def set_cookie_header(self, session_id: str) -> str:
        """The ``Set-Cookie`` value: HttpOnly, Secure, SameSite=Strict, as the design asks."""
        return f"{COOKIE_NAME}={self.sign(session_id)}; HttpOnly; Secure; SameSite=Strict; Path=/"
