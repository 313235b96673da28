"""Control: the unmodified hardened service behind the same launcher and pass-through wrap. Must PASS."""

from __future__ import annotations

from tests.mutants.base import ASGIApp, Mutant


def _identity(app: ASGIApp) -> ASGIApp:
    return app


MUTANT = Mutant(
    name="control",
    breaks="nothing: the hardened reference service, unmodified, through the mutant launcher",
    must_fail=(),
    exit_code=0,
    wrap=_identity,
)
