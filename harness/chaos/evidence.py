"""Collecting the evidence a run is judged on.

The analyzers only ever read files in the run directory, so a finished run can
be re-analyzed (``harness analyze RUN_DIR``) or archived as a CI artifact
without the stack. This module fills that directory: the service's event log
for the run window, a metrics scrape, and a scan of ``ChatSessions`` read
directly from DynamoDB (not through the proxy, which may still be faulty if a
rollback failed).
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx


def copy_events(source: Path | None, dest: Path, since: float) -> int | None:
    """Copy event-log lines with ``ts >= since`` into ``dest``; return how many (None: no log to copy).

    A missing log stays missing -- no empty file is made -- so the analyzers
    that need it say "inconclusive" instead of reading "nothing happened".
    """
    if source is None or not source.exists():
        return None
    count = 0
    with dest.open("w") as out, source.open() as handle:
        for line in handle:
            try:
                ts = float(json.loads(line).get("ts", 0))
            except (ValueError, AttributeError):
                continue
            if ts >= since:
                out.write(line if line.endswith("\n") else line + "\n")
                count += 1
    return count


def scrape_metrics(service_url: str, dest: Path) -> bool:
    """Save the service's ``/metrics`` text; False when it cannot be read."""
    try:
        resp = httpx.get(f"{service_url}/metrics", timeout=5)
        resp.raise_for_status()
    except httpx.HTTPError:
        return False  # absent, not empty: nothing was scraped
    dest.write_text(resp.text)
    return True


def wait_outbox_drained(service_url: str, timeout_s: float) -> dict[str, Any]:
    """Poll ``/debug/memory`` until the hardened outbox is empty (or time runs out)."""
    deadline = time.monotonic() + timeout_s
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            resp = httpx.get(f"{service_url}/debug/memory", timeout=2)
            if resp.status_code != 200:
                return {"available": False, "status": resp.status_code}
            last = resp.json()
        except (httpx.HTTPError, ValueError):
            return {"available": False}
        pending = int((last.get("outbox") or {}).get("pending", 0) or 0)
        if pending == 0:
            return {"available": True, "drained": True, "debug": last}
        time.sleep(0.25)
    return {"available": True, "drained": False, "debug": last}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def dump_table(dynamodb_url: str, dest: Path, table: str = "ChatSessions") -> int:
    """Scan the whole table into ``dest`` as JSON lines; return the item count (-1 on error).

    The scan is written beside ``dest`` and renamed only when it finished: a scan
    that failed half-way must leave the table *absent* (durability inconclusive,
    the reason in ``table.error``), never a partial table that reads as lost turns.
    """
    import boto3
    from botocore.config import Config

    resource = boto3.resource(
        "dynamodb", endpoint_url=dynamodb_url, region_name="us-east-1",
        aws_access_key_id="harness", aws_secret_access_key="harness",
        config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3}),
    )
    count = 0
    partial = dest.with_name(dest.name + ".partial")
    try:
        tbl = resource.Table(table)
        kwargs: dict[str, Any] = {}
        with partial.open("w") as out:
            while True:
                page = tbl.scan(**kwargs)
                for item in page.get("Items", []):
                    out.write(json.dumps(_plain(item), sort_keys=True) + "\n")
                    count += 1
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    except Exception as exc:  # the analyzer reports a missing table; we note why
        partial.unlink(missing_ok=True)
        dest.with_suffix(".error").write_text(f"{type(exc).__name__}: {exc}\n")
        return -1
    partial.replace(dest)
    return count
