"""``python -m reference_service``: parse flags/env, bind, print the address, serve.

Why we bind the socket ourselves: with ``--port 0`` the OS picks the port, and
the stack (and tests) learn it from the ``listening on http://HOST:PORT`` line
or the ``--port-file``, which must only appear once the socket accepts.
``--max-connections`` caps the connections uvicorn serves at once: a flood of
held connections is answered 503 instead of growing without bound.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import Sequence

from reference_service.config import parse_config


def main(argv: Sequence[str] | None = None) -> int:
    """Run the service until SIGINT/SIGTERM; returns the exit code."""
    config = parse_config(argv)
    try:
        sock = socket.socket(socket.AF_INET6 if ":" in config.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((config.host, config.port))
        sock.listen(2048)
    except OSError as exc:
        print(f"reference_service: cannot listen on {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 2
    port = sock.getsockname()[1]
    # Heavy imports only after the flags are known to be good: bad input fails fast.
    import uvicorn

    from reference_service.app import create_app

    app = create_app(config)
    # uvicorn answers 503 once len(connections) >= limit_concurrency, counting the
    # connection the request arrived on: a limit of N serves only N - 1 at once.
    server = uvicorn.Server(
        uvicorn.Config(app, log_level=config.log_level, access_log=False, lifespan="on", ws="websockets-sansio",
                       limit_concurrency=config.max_connections + 1)
    )

    async def serve() -> None:
        serving = asyncio.ensure_future(server.serve(sockets=[sock]))
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)
        if server.started:
            if config.port_file:
                with open(config.port_file + ".tmp", "w") as fh:
                    fh.write(f"{port}\n")
                os.replace(config.port_file + ".tmp", config.port_file)
            print(f"listening on http://{config.host}:{port}", flush=True)
        await serving

    try:
        import uvloop

        uvloop.run(serve())
    except ImportError:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
