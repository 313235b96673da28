"""Start one mutant: ``python -m tests.mutants.serve NAME [python -m reference_service flags]``.

Run from the repository root. The mutant's ``install`` patches the hardened
service's classes, its ``wrap`` wraps the built ASGI app, and then the
reference service's own ``main`` binds, prints ``listening on ...``, writes
``--port-file`` and serves, exactly as ``python -m reference_service`` would.

One addition, for every mutant and the control alike: before it reports
ready, the service fills its DynamoDB and Redis connection pools (``WARM``
concurrent queries for a session that does not exist, and as many pings), off
the chat path so no mutant's request counter moves. A cold service on a busy
2-core machine otherwise opens ~20 connections in the first burst of 20 users;
those first writes took ~200 ms and tripped the control's 200 ms breaker
before the baseline began (observed once; the harness rightly failed it on
``alarms.circuit_open.baseline_silent``).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import Sequence
from typing import Any

WARM = 24  # >= the quick run's 20 users plus the outbox flusher


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print("usage: python -m tests.mutants.serve NAME [reference_service flags]", file=sys.stderr)
        return 2
    from tests.mutants.catalog import load

    mutant = load(args[0])
    if not mutant.listens:
        print(f"mutant {mutant.name}: nothing to serve (it is a closed port)", file=sys.stderr)
        return 2
    _warm_pools()
    if mutant.install is not None:
        mutant.install()
    if mutant.wrap is not None:
        import reference_service.app as app_module

        build = app_module.create_app
        wrap = mutant.wrap

        def create_app(config: Any, nlu: Any = None) -> Any:
            return wrap(build(config, nlu))

        app_module.create_app = create_app  # type: ignore[assignment]
    from reference_service.__main__ import main as serve

    return serve(args[1:])


def _warm_pools() -> None:
    from reference_service.app import Service

    start = Service.start

    async def start_warm(self: Service) -> None:
        await start(self)
        ghost = f"warmup-{uuid.uuid4()}"
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(
                *(self.dynamo.max_turn_number(ghost) for _ in range(WARM)),
                *(self.cache.ping() for _ in range(WARM)), return_exceptions=True), 10.0)

    Service.start = start_warm  # type: ignore[method-assign]


if __name__ == "__main__":
    sys.exit(main())
