"""The run directory's line schemas: one place for every field name the harness writes and reads.

Why: the recorder writes each request's record inside Locust, the analyzers
load the records, the service's events and the proxy's wire taps, and the live
display tails the records while the run goes on. When each of them spelled the
field names itself, a renamed field silently became a missing column. This
module imports nothing, so a locustfile can load it before gevent patches the
process.
"""

from __future__ import annotations

#: The load's per-request file, under ``<run>/records/``.
RECORDS_FILE = "records.jsonl"
#: ``kind`` of a request record (the file may carry other kinds later).
REQUEST_KIND = "request"

#: Fields the recorder takes from Locust's request event itself.
REQUEST_FIELDS = ("kind", "ts", "start", "intended_start", "latency_us", "status", "error", "name")
#: Fields the load code puts into the request ``context`` for the recorder to copy.
CONTEXT_FIELDS = (
    "scenario",
    "user_class",
    "session_id",
    "turn",
    "script",
    "conversation",
    "memory_mode",
    "level",
    "reason",
    "persisted",
    "user_message_sha256",
    "reply_sha256",
    "referent_distance",
    "notice",
    "expected_session_id",
)
#: The client's judgement of the reply: ``resolved``, ``degraded``, ``unchecked``, ``wrong`` or ``error``.
VERDICT_FIELD = "verdict"
#: Verdicts that make a turn failed even with a 200 (a reply without its contract, a wrong answer).
FAILED_VERDICTS = ("wrong", "error")

#: The record columns the analyzers load.
RECORD_COLUMNS = [
    "kind", "id", "ts", "start", "intended_start", "latency_us", "status", "error", "name",
    "scenario", "user_class", "session_id", "turn", "memory_mode", "level", "reason",
    "persisted", "verdict", "script", "conversation",
]
#: The service's event log (``events.jsonl``) columns the analyzers load.
EVENT_COLUMNS = [
    "ts", "event", "breaker", "from", "to", "outcome", "store", "session_id", "latency_ms",
    "items", "bytes", "turn_number", "level", "memory_mode", "reason", "action", "persisted",
]
#: One line of a proxy's wire tap (``taps/<proxy>.jsonl``), keys in this order.
WIRE_COLUMNS = ["ts", "proxy", "conn", "event", "seq", "method", "path", "target", "status", "request_ts",
                "duration_ms", "error"]

#: Times, read as float64 whatever their JSON spelling.
NUMERIC = {"ts", "start", "intended_start", "latency_us", "latency_ms"}
#: pyarrow type aliases of the record, event and table-item fields, for the fast reader.
FIELD_TYPES: dict[str, str] = {
    **{k: "float64" for k in NUMERIC},
    **{k: "double" for k in ("memory_ms", "llm_ms", "total_ms")},
    **{k: "int64" for k in ("status", "turn", "level", "items", "bytes", "turn_number", "failures_in_window")},
    **{k: "string" for k in ("kind", "id", "error", "name", "scenario", "user_class", "session_id", "script",
                             "memory_mode", "reason", "verdict", "worker", "event", "breaker", "from", "to",
                             "outcome", "store", "action", "user_message_sha256", "reply_sha256",
                             "customer_id", "user_message", "assistant_reply", "intent")},
    **{k: "float64" for k in ("timestamp", "ttl")},  # table items (epoch seconds)
    "persisted": "bool",
}
