"""The breaker logs a perfect state machine, but while it says "open" it still lets every call through.

Only the wire tap on the ``dynamodb`` proxy can tell: the service's own log
shows the right transitions and one probe per half-open episode.
"""

from __future__ import annotations

from reference_service.memory.breaker import OPEN, CircuitBreaker
from tests.mutants.base import Mutant


def _install() -> None:
    admit = CircuitBreaker._admit

    def leaky(self: CircuitBreaker) -> tuple[int, bool]:
        if self.state == OPEN:
            return self._epoch, False  # should raise CircuitOpenError; the call goes to DynamoDB instead
        return admit(self)

    CircuitBreaker._admit = leaky  # type: ignore[method-assign]


MUTANT = Mutant(
    name="leaky_open",
    breaks="breaker reports open but keeps calling DynamoDB (its log looks perfect)",
    must_fail=("breaker.wire_silent_while_open",),
    install=_install,
)
