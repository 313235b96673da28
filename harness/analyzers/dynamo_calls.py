"""Every DynamoDB call of a run, from the best evidence the run holds.

Why two sources: the service's own event log says what the service believes
it did, and a broken service can believe anything. Our Toxiproxy-compatible
proxy can tap the ``dynamodb`` proxy and log each HTTP request and response it
relayed (``taps/dynamodb.jsonl``): calls seen on the wire, which the service
cannot fake. Analyzers prefer the wire and fall back to the event log (a real
Toxiproxy has no tap), and every result says which one it used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.analyzers.rundata import RunData

WIRE = "wire tap on the dynamodb proxy"
SERVICE_LOG = "service event log"
_OP_OF_EVENT = {"memory_read": "Query", "memory_write": "PutItem"}


@dataclass(frozen=True)
class DynamoCalls:
    """Calls with columns ``start``, ``ts`` (end), ``op``, ``latency_ms``, ``ok``, ``status``, ``error``."""

    frame: pd.DataFrame | None
    source: str
    why_missing: str = ""


def from_wire(wire: pd.DataFrame) -> pd.DataFrame:
    """One row per tapped response (a request the connection ended without answering is a failed call)."""
    resp = wire[wire["event"] == "response"]
    target = resp["target"].astype("string").fillna("")
    status = pd.to_numeric(resp["status"], errors="coerce")
    dur = pd.to_numeric(resp["duration_ms"], errors="coerce").fillna(0.0)
    ts = pd.to_numeric(resp["ts"], errors="coerce")
    start = pd.to_numeric(resp.get("request_ts", ts - dur / 1000.0), errors="coerce").fillna(ts - dur / 1000.0)
    return pd.DataFrame({
        "start": start.to_numpy(dtype=float), "ts": ts.to_numpy(dtype=float),
        "op": target.str.rsplit(".", n=1).str[-1].replace("", "unknown").to_numpy(dtype=object),
        "latency_ms": dur.to_numpy(dtype=float), "ok": (status == 200).to_numpy(dtype=bool),
        "status": status.to_numpy(dtype=float),
        "error": resp.get("error", pd.Series([None] * len(resp))).to_numpy(dtype=object),
    }).sort_values("start", kind="stable").reset_index(drop=True)


def from_events(events: pd.DataFrame) -> pd.DataFrame:
    """One row per DynamoDB call the service logged (calls the breaker refused were never made)."""
    ev = events[events["event"].isin(list(_OP_OF_EVENT)) & (events["store"] == "dynamodb")
                & (events["outcome"] != "circuit_open")]
    lat = pd.to_numeric(ev["latency_ms"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    ts = ev["ts"].to_numpy(dtype=float)
    return pd.DataFrame({
        "start": ts - lat / 1000.0, "ts": ts,
        "op": ev["event"].map(_OP_OF_EVENT).to_numpy(dtype=object), "latency_ms": lat,
        "ok": (ev["outcome"] == "ok").to_numpy(dtype=bool), "status": np.full(len(ev), np.nan),
        "error": ev["outcome"].to_numpy(dtype=object),
    }).sort_values("start", kind="stable").reset_index(drop=True)


def dynamodb_calls(run: RunData, prefer_wire: bool = True) -> DynamoCalls:
    """The run's DynamoDB calls from the wire tap if it was recorded, else from the service's log."""
    if prefer_wire and len(run.wire):
        return DynamoCalls(from_wire(run.wire), WIRE)
    if len(run.events):
        return DynamoCalls(from_events(run.events), SERVICE_LOG)
    why = "; ".join(v for k, v in run.missing.items() if k in ("taps/dynamodb.jsonl", "events.jsonl"))
    return DynamoCalls(None, "none", why or "no DynamoDB calls recorded on the wire or in the service log")
