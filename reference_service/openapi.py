"""The OpenAPI 3.0 document of the service's HTTP API, served at ``/openapi.json``.

Written out by hand because Starlette generates none, and because it is the
contract the property-based fuzz test (``tests/service/test_fuzz.py``) reads:
it generates requests from this document and expects a 4xx, never a 5xx.
"""

from __future__ import annotations

from typing import Any

_ERROR = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
}

_DEBUG_METADATA = {
    "type": "object",
    "required": ["memory_mode", "reason"],
    "properties": {
        "memory_mode": {"type": "string", "enum": ["full", "cache_only", "stateless", "fallback"]},
        "level": {"type": "integer", "minimum": 0, "maximum": 3},
        "reason": {"type": "string", "nullable": True},
        "history_source": {"type": "string"},
        "turns_loaded": {"type": "integer", "minimum": 0},
    },
}

_CHAT_REPLY = {
    "type": "object",
    "required": ["session_id", "turn_number", "response", "persisted", "debug_metadata"],
    "properties": {
        "session_id": {"type": "string", "format": "uuid"},
        "turn_number": {"type": "integer", "minimum": 1},
        "response": {"type": "string"},
        "intent": {"type": "string"},
        "resolved_query": {"type": "string"},
        "persisted": {"type": "boolean"},
        "debug_metadata": _DEBUG_METADATA,
    },
}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): {"description": "client error", "content": {"application/json": {"schema": _ERROR}}}
            for c in codes}


DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "memory-chaos-harness reference service", "version": "1"},
    "paths": {
        "/chat": {
            "post": {
                "summary": "One chat turn; the session travels in the `session` cookie",
                "parameters": [{"name": "session", "in": "cookie", "required": False, "schema": {"type": "string"}}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {
                        "type": "object", "required": ["message"],
                        "properties": {"message": {"type": "string", "minLength": 1, "maxLength": 4000}},
                    }}},
                },
                "responses": {
                    "200": {"description": "the reply", "content": {"application/json": {"schema": _CHAT_REPLY}}},
                    **_errors(400, 408, 413, 422, 431),
                    "500": {"description": "the design's save_turn raised (seed only): the turn was lost",
                            "content": {"application/json": {"schema": {"type": "object"}}}},
                },
            }
        },
        "/healthz": {"get": {"summary": "ok, or degraded with reasons (always 200)",
                             "responses": {"200": {"description": "health"}}}},
        "/metrics": {"get": {"summary": "Prometheus text exposition",
                             "responses": {"200": {"description": "metrics"}}}},
        "/debug/memory": {"get": {"summary": "breaker, outbox and degradation counts (loopback only)",
                                  "responses": {"200": {"description": "state"}, **_errors(403)}}},
        "/openapi.json": {"get": {"summary": "this document", "responses": {"200": {"description": "OpenAPI"}}}},
    },
}
