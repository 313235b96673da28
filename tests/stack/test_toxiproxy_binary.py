"""The ``toxiproxy-server`` path of ``harness up``: a binary on PATH is preferred over our own server.

No registry here serves Shopify's binary, so the test puts a ``toxiproxy-server``
on PATH that takes the real binary's flags (``-host``, ``-port``) and runs our
compatible server. Only the binary's presence is faked: the stack then creates
its proxies through it and a fault goes through it like any other.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import httpx

from tests.stack.test_lifecycle import harness, home, up_args  # noqa: F401  (home is a fixture)


def _fake_binary(bin_dir: Path) -> None:
    bin_dir.mkdir()
    script = bin_dir / "toxiproxy-server"
    script.write_text(f"""#!/bin/sh
# Stand-in for Shopify's toxiproxy-server: its -host/-port flags, our server behind them.
while [ $# -gt 0 ]; do
  case "$1" in -host) host="$2"; shift 2;; -port) port="$2"; shift 2;; *) shift;; esac
done
exec {sys.executable} -m harness.toxiproxy --host "$host" --port "$port"
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_up_prefers_a_toxiproxy_server_binary_on_path(home: Path, tmp_path: Path) -> None:  # noqa: F811
    _fake_binary(tmp_path / "bin")
    env = {"PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    result = harness(*up_args("--json"), home=home, env=env)
    assert result.returncode == 0, result.stderr
    toxi = json.loads(result.stdout)["components"]["toxiproxy"]
    assert toxi["backend"] == "toxiproxy-server", toxi
    proxies = httpx.get(f"{toxi['url']}/proxies", timeout=5).json()
    assert set(proxies) == {"dynamodb", "redis", "llm"}
    down = harness("down", home=home)
    assert down.returncode == 0, down.stderr
