"""A Toxiproxy 2.12-compatible fault-injection proxy written on asyncio.

Why our own: the harness must run where Docker and the Go binary are not
available, and the chaos runs need toxics applied to live connections with
known timing.  ``toxiproxy-python`` and ``chaostoolkit-toxiproxy`` talk to it
unchanged.  Layout mirrors Toxiproxy: :mod:`.toxics` (one module per toxic),
:mod:`.link` (per-connection toxic chains), :mod:`.proxy` (listeners and
connections), :mod:`.api` (HTTP API), :mod:`.server` (entry points).
"""

from harness.toxiproxy.server import RunningServer, ServeError, run_in_thread, serve

__all__ = ["RunningServer", "ServeError", "run_in_thread", "serve"]
