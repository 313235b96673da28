"""The breaker counts failures with no time window: intermittent timeouts add up until it opens.

The design's rule is 5 failures *within 10 s*. A count that never forgets (the
shape of the seed's snippet, and of aiobreaker's and purgatory's counters)
opens under "3 timeouts every 10 s" although no window ever held 5. The
service's own log cannot show it: its failures_in_window is the unwindowed
count, which does reach the threshold. Only the calls seen on the wire can.
"""

from __future__ import annotations

from reference_service.memory.breaker import CircuitBreaker
from tests.mutants.base import Mutant


def _install() -> None:
    def never_forget(self: CircuitBreaker, now: float) -> None:
        del self, now  # no window: old failures are never pruned

    CircuitBreaker._prune = never_forget  # type: ignore[method-assign]


MUTANT = Mutant(
    name="windowless",
    breaks="breaker counts failures with no time window, so intermittent timeouts open it",
    must_fail=("breaker.wire_threshold_before_open",),
    install=_install,
    # 3 held DynamoDB calls every 10 s: never 5 within the quick run's 5 s window, 6 in the fault phase.
    fault=("--dynamo-timeouts", "3/10s"),
)
