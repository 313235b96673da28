"""Property-based fuzz of the HTTP API, driven by the service's own ``/openapi.json``.

Hypothesis generates requests for every operation in the document: bodies that
fit the ``/chat`` schema, bodies that almost fit (wrong types, extra nesting,
unencodable text, raw bytes), and random cookies and content types. Against a
real service (uvicorn, moto's DynamoDB, redis-server) every answer must be a
documented status, never a 5xx; every 200 must match the documented reply
schema; the event log must hold no ``internal_error`` at the end, and no
Python traceback may reach the service's log (uvicorn's and the service's
loggers), even for a request that was answered well.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .helpers import LogCapture, run_service

JSON_LEAF = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
JSON_ANY = st.recursive(JSON_LEAF, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)

# Any visible ASCII (what an HTTP header may carry): forged, truncated or stuffed session cookies.
COOKIE = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=80)


def _nullable(schema: Any) -> Any:
    """OpenAPI 3.0's ``nullable`` in JSON Schema terms, so jsonschema can check a reply."""
    if isinstance(schema, dict):
        out = {k: _nullable(v) for k, v in schema.items() if k != "nullable"}
        if schema.get("nullable"):
            out["type"] = [schema["type"], "null"]
        return out
    if isinstance(schema, list):
        return [_nullable(x) for x in schema]
    return schema


def _with_surrogate(parts: tuple[str, str]) -> bytes:
    """A JSON body whose message ends in an escaped lone surrogate: valid JSON, invalid text."""
    return ('{"message": "' + json.dumps(parts[0])[1:-1] + parts[1] + '"}').encode()


def _bodies(doc: dict[str, Any]) -> st.SearchStrategy[bytes]:
    schema = doc["paths"]["/chat"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    limit = schema["properties"]["message"]["maxLength"]
    text = st.text(min_size=0, max_size=limit + 50)
    surrogate = st.sampled_from(["\\ud800", "\\udfff", "\\ud83d"])
    return st.one_of(
        text.map(lambda m: json.dumps({"message": m}).encode()),                        # fits, or nearly
        st.tuples(text, surrogate).map(_with_surrogate),                                # unencodable
        JSON_ANY.map(lambda v: json.dumps({"message": v}).encode()),                    # wrong type
        JSON_ANY.map(lambda v: json.dumps(v).encode()),                                 # wrong shape
        st.integers(1, 4000).map(lambda n: b'{"message": ' + b"[" * n + b"]" * n + b"}"),
        st.binary(max_size=300),                                                        # not JSON at all
    )


def test_no_generated_request_gets_a_5xx(make_config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with run_service(make_config(variant="hardened"), tmp_path / "ev.jsonl") as svc:
        doc = svc.client.get(f"{svc.url}/openapi.json").json()
        chat = doc["paths"]["/chat"]["post"]
        documented = {int(code) for code in chat["responses"]} - {500}
        reply_schema = _nullable(chat["responses"]["200"]["content"]["application/json"]["schema"])
        gets = [path for path, ops in doc["paths"].items() if "get" in ops]
        client = httpx.Client(timeout=30)

        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(body=_bodies(doc), cookie=COOKIE,
               ctype=st.sampled_from(["application/json", "text/plain", "", "application/x-www-form-urlencoded"]),
               path=st.sampled_from(gets))
        def one(body: bytes, cookie: str, ctype: str, path: str) -> None:
            headers = {"content-type": ctype} if ctype else {}
            r = client.post(f"{svc.url}/chat", content=body, headers={**headers, "Cookie": f"session={cookie}"})
            assert r.status_code in documented, (r.status_code, r.text[:200], body[:80])
            if r.status_code == 200:
                jsonschema.validate(r.json(), reply_schema)
            else:
                assert {"error", "detail"} <= set(r.json())
            assert client.get(f"{svc.url}{path}").status_code < 500

        with LogCapture(svc.thread.thread) as log:
            try:
                one()
            finally:
                client.close()
            assert svc.chat("recommend a sci-fi book").status_code == 200
            time.sleep(0.2)  # uvicorn logs an app's exception only after its response has gone out
        assert log.tracebacks() == [], "\n\n".join(log.tracebacks()[:3])
        assert svc.events("internal_error") == []
