"""API-level DynamoDB faults from the stand-in: the answers botocore sees, and its retries.

A real ``DynamoServer`` on a socket; boto3 over HTTP; the control API over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from harness.standins.dynamodb import DynamoServer


@pytest.fixture(scope="module")
def server() -> Iterator[DynamoServer]:
    with DynamoServer() as srv:
        client = _client(srv.url, 0)
        client.create_table(TableName="T", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                            BillingMode="PAY_PER_REQUEST")
        yield srv


@pytest.fixture(autouse=True)
def healthy(server: DynamoServer) -> Iterator[None]:
    yield
    httpx.delete(f"{server.url}/_standin/faults", timeout=5)


def _client(url: str, retries: int, mode: str = "standard") -> Any:
    return boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x",
                        aws_secret_access_key="x",
                        config=Config(retries={"max_attempts": retries, "mode": mode}, connect_timeout=5))


def _set(server: DynamoServer, **body: Any) -> httpx.Response:
    return httpx.put(f"{server.url}/_standin/faults", json=body, timeout=5)


@pytest.mark.parametrize(("code", "status", "retryable"), [
    ("ProvisionedThroughputExceededException", 400, True),
    ("ThrottlingException", 400, True),
    ("InternalServerError", 500, True),
])
def test_each_error_is_what_dynamodb_sends(server: DynamoServer, code: str, status: int, retryable: bool) -> None:
    assert _set(server, error_rate=1.0, code=code).status_code == 200
    with pytest.raises(ClientError) as exc:
        _client(server.url, 0).put_item(TableName="T", Item={"k": {"S": "a"}})
    err = exc.value.response
    assert err["Error"]["Code"] == code
    assert err["ResponseMetadata"]["HTTPStatusCode"] == status
    assert err["ResponseMetadata"]["RequestId"]


def test_the_share_is_exact_and_only_named_operations_fail(server: DynamoServer) -> None:
    _set(server, error_rate=0.2, code="ProvisionedThroughputExceededException", operations=["PutItem"])
    client = _client(server.url, 0)
    failed = 0
    for i in range(50):
        try:
            client.put_item(TableName="T", Item={"k": {"S": f"k{i}"}})
        except ClientError:
            failed += 1
        client.get_item(TableName="T", Key={"k": {"S": "zz"}})  # never faulted
    assert failed == 10
    state = httpx.get(f"{server.url}/_standin/faults", timeout=5).json()
    assert state["seen"] == 50 and state["failed"] == 10


def test_botocore_retries_throttling_and_succeeds(server: DynamoServer) -> None:
    _set(server, error_rate=0.5, code="ProvisionedThroughputExceededException")
    client = _client(server.url, 3)
    for i in range(10):
        resp = client.put_item(TableName="T", Item={"k": {"S": f"r{i}"}})
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    state = httpx.get(f"{server.url}/_standin/faults", timeout=5).json()
    # every second attempt failed and was retried: the SDK's retries are visible in the counts
    assert state["seen"] - state["failed"] == 10 and state["failed"] == state["seen"] // 2 >= 9


@pytest.mark.parametrize("body", [
    {"error_rate": 0}, {"error_rate": 1.5}, {"error_rate": "x"}, {"error_rate": True},
    {"error_rate": 0.5, "code": "Nope"}, {"error_rate": 0.5, "operations": ["Put Item"]},
    {"error_rate": 0.5, "extra": 1}, [1, 2],
    {"burst": 0, "every_s": 1}, {"burst": 3}, {"burst": 3, "every_s": 0}, {"burst": 3, "every_s": 1, "delay_ms": 0},
    {"burst": 3, "every_s": 1, "error_rate": 0.5}, {"burst": True, "every_s": 1},
])
def test_bad_control_requests_are_400_and_change_nothing(server: DynamoServer, body: Any) -> None:
    r = httpx.put(f"{server.url}/_standin/faults", json=body, timeout=5)
    assert r.status_code == 400 and r.json()["error"] == "bad_fault"
    assert httpx.get(f"{server.url}/_standin/faults", timeout=5).json()["fault"] is None
    _client(server.url, 0).put_item(TableName="T", Item={"k": {"S": "ok"}})


def test_burst_holds_exactly_n_calls_per_window_then_answers_them(server: DynamoServer) -> None:
    """3 calls per 1 s window held 300 ms, the rest at once; a held call still succeeds (a late answer)."""
    import time

    assert _set(server, burst=3, every_s=1.0, delay_ms=300).status_code == 200
    client = _client(server.url, 0)
    took: list[tuple[float, float]] = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < 1.8:  # two windows (the third starts at 2 s)
        t = time.monotonic()
        client.get_item(TableName="T", Key={"k": {"S": "missing"}})
        took.append((t - t0, time.monotonic() - t))
    held = [at for at, d in took if d >= 0.25]
    assert len(took) > 8 and len(held) in (5, 6), took  # 3 per window; the second may be cut short
    assert held[:3] == [at for at, _ in took[:3]]  # the first three calls of the first window
    assert all(at >= 0.85 for at in held[3:]), held  # the next group waits for the next window
    state = httpx.get(f"{server.url}/_standin/faults", timeout=5).json()
    assert state["fault"]["burst"] == 3 and state["failed"] == len(held)
