"""WSClient's close handshake must be bounded and must let Locust kill the user.

Regression: ``websocket-client``'s ``WebSocket.close()`` waits for the peer's
close frame inside a bare ``except: pass``. When Locust's ``--run-time`` stop
threw ``GreenletExit`` into a WebSocketRefreshUser blocked there, the kill was
swallowed, the user kept conversing, and Locust (which waits for killed users
to die) hung after "--run-time limit reached". The probe
(``ws_kill_probe.py``, a gevent child process) reproduces that moment every
time by using a real TCP WebSocket peer that never answers the close frame.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).with_name("ws_kill_probe.py")

pytestmark = pytest.mark.timeout(60)


def test_kill_during_close_handshake_ends_the_user() -> None:
    proc = subprocess.run(
        [sys.executable, str(PROBE)], capture_output=True, text=True, timeout=30, cwd=PROBE.parents[2]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["killed_in_close"], result  # the kill really landed inside close()
    assert result["dead"], f"GreenletExit was swallowed during the close handshake: {result}"
    assert result["exit"] == "GreenletExit", result
    assert result["connects"] == 1, result  # no reconnect after the kill
    assert result["socket_dropped"], result
    # an unanswered close frame costs the close timeout (0.5 s), not forever
    assert 0.5 <= result["unanswered_close_s"] < 0.5 + 2.0, result
