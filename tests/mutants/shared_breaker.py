"""Redis trouble trips the DynamoDB breaker: one breaker shared by both stores, under a Redis-only fault.

DynamoDB stays healthy, so when Redis slows past its timeout the service stops
reading and writing full history for no reason of DynamoDB's.
"""

from __future__ import annotations

from typing import Any

from reference_service.memory.breaker import CLOSED, CircuitBreaker
from reference_service.memory.cache import RedisCache
from tests.mutants.base import Mutant

_breakers: list[CircuitBreaker] = []


def _install() -> None:
    init = CircuitBreaker.__init__
    bounded = RedisCache._bounded

    def registering(self: CircuitBreaker, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        _breakers.append(self)

    async def shared(self: RedisCache, coro: Any) -> Any:
        try:
            return await bounded(self, coro)
        except Exception:
            for b in _breakers:
                if b.name == "dynamodb" and b.state == CLOSED:
                    b._record_failure(b._epoch, False)  # a Redis failure counted against DynamoDB
            raise

    CircuitBreaker.__init__ = registering  # type: ignore[method-assign]
    RedisCache._bounded = shared  # type: ignore[method-assign]


MUTANT = Mutant(
    name="shared_breaker",
    breaks="Redis failures count against the DynamoDB breaker, which opens under a Redis-only fault",
    must_fail=("breaker.no_open_without_failing_fault",),
    install=_install,
    fault=("--redis-latency", "1s"),
)
