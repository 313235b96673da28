"""Which Redis a server-side fault may touch: only one this harness started.

The flush and read-only faults act on the server itself (``FLUSHALL``,
``REPLICAOF``), not through a proxy, so they would do the same to whatever
the URL names. A ``--redis-url`` may be someone's real cache, and a stack
adopted from an earlier ``harness up`` may not be ours either; both are
refused before the run starts, as is a backend the command does not work on.
"""

from __future__ import annotations

from harness.state import Component


class NotOurRedis(RuntimeError):
    """The Redis in use is not one the harness started, or its backend cannot take this fault."""


def our_redis_url(components: dict[str, Component], flag: str, backends: tuple[str, ...], need: str,
                  why: str) -> str:
    """The URL of the stack's Redis when the harness started it on one of ``backends``, else ``NotOurRedis``.

    ``need`` names what the fault needs ("a Redis this harness started") and
    ``why`` the reason others are refused; both go into the message.
    """
    r = components.get("redis")
    if r is None or r.backend not in backends or not r.started_by_us:
        seen = r.backend if r else "not known: --target without a stack"
        if r is not None and r.backend in backends and not r.started_by_us:
            seen += ", not started by this harness"
        raise NotOurRedis(f"{flag} needs {need} (this stack's Redis is {seen}); {why}")
    return r.url
