"""``python -m harness.toxiproxy --host 127.0.0.1 --port 8474 [--config proxies.json]``.

Why argparse and not the project CLI: this entry must work with nothing but
the package, as ``toxiproxy-server`` does (the project CLI reaches the same
:func:`harness.toxiproxy.serve` as ``harness toxiproxy-server``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.toxiproxy.server import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.toxiproxy", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="API listen host (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8474, help="API listen port, 0 = any (default 8474)")
    parser.add_argument("--config", type=Path, default=None, help="JSON array of proxies, as /populate takes")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be 0..65535, got {args.port}")
    serve(args.host, args.port, args.config)


if __name__ == "__main__":
    main()
