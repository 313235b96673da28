"""A table scan that fails leaves the table absent, never empty: durability is inconclusive, not "all lost".

A real DynamoDB stand-in on a socket, scanned by the harness's own collector over
HTTP; the stand-in's control API makes every Scan answer DynamoDB's 500.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import boto3
import httpx

from harness.analyzers import analyze_run
from harness.chaos.evidence import dump_table
from harness.standins.dynamodb import DynamoServer


def _table(url: str, name: str, items: int) -> None:
    client = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1",
                          aws_access_key_id="x", aws_secret_access_key="x")
    client.create_table(TableName=name,
                        KeySchema=[{"AttributeName": "session_id", "KeyType": "HASH"},
                                   {"AttributeName": "turn_number", "KeyType": "RANGE"}],
                        AttributeDefinitions=[{"AttributeName": "session_id", "AttributeType": "S"},
                                              {"AttributeName": "turn_number", "AttributeType": "N"}],
                        BillingMode="PAY_PER_REQUEST")
    for n in range(items):
        client.put_item(TableName=name,
                        Item={"session_id": {"S": "s"}, "turn_number": {"N": str(n)}})


def test_failed_scan_leaves_no_table_and_durability_says_why(make_run: Callable[..., Path],
                                                            tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(make_run(), run)
    (run / "table.jsonl").unlink()
    # The stand-in runs moto in this process, whose tables outlive the server: a name of its own
    # keeps other tests' ChatSessions free.
    name = f"ChatSessions-scan-{uuid.uuid4().hex[:8]}"
    with DynamoServer() as srv:
        _table(srv.url, name, 3)
        # a healthy scan first: the collector writes every item
        ok = tmp_path / "ok.jsonl"
        assert dump_table(srv.url, ok, table=name) == 3 and len(ok.read_text().splitlines()) == 3
        fault = httpx.put(f"{srv.url}/_standin/faults", timeout=5,
                          json={"error_rate": 1.0, "code": "InternalServerError", "operations": ["Scan"]})
        assert fault.status_code == 200
        try:
            assert dump_table(srv.url, run / "table.jsonl", table=name) == -1
        finally:
            httpx.delete(f"{srv.url}/_standin/faults", timeout=5)
            boto3.client("dynamodb", endpoint_url=srv.url, region_name="us-east-1", aws_access_key_id="x",
                         aws_secret_access_key="x").delete_table(TableName=name)
    assert not (run / "table.jsonl").exists(), "a failed scan must not leave an (empty) table behind"
    assert not list(run.glob("table.jsonl.partial"))
    assert "InternalServerError" in (run / "table.error").read_text()
    v = analyze_run(run)
    evidence = [c for c in v.checks if c.name == "durability.evidence"]
    assert evidence and evidence[0].inconclusive, [c.name for c in v.checks if c.name.startswith("durability")]
    assert "InternalServerError" in evidence[0].reason
    assert not [c for c in v.checks if c.name.startswith("durability") and c.failed]
