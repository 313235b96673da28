"""The ``moto-indexed`` DynamoDB stand-in answers exactly like plain moto, but from one partition.

Equivalence is checked over HTTP through boto3 against two real servers (the
patched stand-in and ``--plain`` moto) loaded with the same data; the "reads one
partition" property is checked in-process by making the whole-table path raise.
"""

from __future__ import annotations

import copy
import itertools
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

TABLE = "ChatSessions"
STR_TABLE = "Docs"
NOW = 1_764_262_800


def _client(url: str) -> Any:
    return boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="x", aws_secret_access_key="x",
                        config=Config(retries={"max_attempts": 0}, connect_timeout=5, read_timeout=30))


def _item(sid: str, turn: int) -> dict[str, Any]:
    it: dict[str, Any] = {
        "session_id": {"S": sid}, "turn_number": {"N": str(turn)},
        "user_message": {"S": f"message {turn} " + "x" * (turn % 7 * 40)},
        "intent": {"S": ["recommendation", "availability", "other"][turn % 3]},
        "ttl": {"N": str(NOW + (turn % 4 - 1) * 3600)},  # some expired, some not
    }
    if turn % 5 == 0:  # every serializer shape, including binary (not fast-pathed)
        it.update({"flag": {"BOOL": turn % 2 == 0}, "nothing": {"NULL": True},
                   "tags": {"SS": ["a", "b"]}, "nums": {"NS": ["1", "2.5"]},
                   "blob": {"B": b"\x00\x01bin"}, "blobs": {"BS": [b"x", b"y"]},
                   "meta": {"M": {"k": {"S": "v"}, "n": {"N": "3"}, "l": {"L": [{"S": "q"}, {"BOOL": False}]}}}})
    return it


SESSIONS = {"s-small": 3, "s-ten": 10, "s-big": 25, "s-gappy": 12}


def _turns(sid: str) -> list[int]:
    n = SESSIONS[sid]
    return [t * 3 for t in range(1, n + 1)] if sid == "s-gappy" else list(range(1, n + 1))


def _load(ddb: Any) -> None:
    ddb.create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "session_id", "AttributeType": "S"},
                              {"AttributeName": "turn_number", "AttributeType": "N"},
                              {"AttributeName": "intent", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "session_id", "KeyType": "HASH"},
                   {"AttributeName": "turn_number", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{"IndexName": "by_intent",
                                 "KeySchema": [{"AttributeName": "intent", "KeyType": "HASH"},
                                               {"AttributeName": "turn_number", "KeyType": "RANGE"}],
                                 "Projection": {"ProjectionType": "ALL"}}])
    ddb.create_table(
        TableName=STR_TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
    # Insert out of order so the sorted index has work to do.
    puts = [(sid, t) for sid in SESSIONS for t in _turns(sid)]
    puts.sort(key=lambda p: (p[1] * 7919) % 97)
    for sid, t in puts:
        ddb.put_item(TableName=TABLE, Item=_item(sid, t))
    for sk in ["b#2", "a#10", "a#2", "c", "a#1", "b#1", "A", "ab"]:
        ddb.put_item(TableName=STR_TABLE, Item={"pk": {"S": "doc"}, "sk": {"S": sk}, "v": {"S": sk * 3}})


@pytest.fixture(scope="module")
def servers(spawn_standin: Any) -> Iterator[tuple[Any, Any]]:
    with spawn_standin("dynamodb") as fast, spawn_standin("dynamodb", "--plain") as plain:
        a, b = _client(fast.url), _client(plain.url)
        _load(a)
        _load(b)
        yield a, b


def _strip(resp: dict[str, Any]) -> dict[str, Any]:
    out = dict(resp)
    out.pop("ResponseMetadata", None)
    return out


_POOL = ThreadPoolExecutor(max_workers=2)


def _pages_both(servers: tuple[Any, Any], **kw: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Page through the same query on both servers concurrently (two processes, two cores)."""
    fa = _POOL.submit(_query_pages, servers[0], **kw)
    fb = _POOL.submit(_query_pages, servers[1], **kw)
    return fa.result(timeout=60), fb.result(timeout=60)


def _both(servers: tuple[Any, Any], op: str, **kw: Any) -> tuple[Any, Any]:
    results = []
    for c in servers:
        try:
            results.append(_strip(getattr(c, op)(**copy.deepcopy(kw))))
        except ClientError as e:
            results.append(("error", e.response["Error"]["Code"], e.response["Error"]["Message"]))
    return results[0], results[1]


def _query_pages(client: Any, **kw: Any) -> list[dict[str, Any]]:
    pages = []
    for _ in range(200):
        resp = _strip(client.query(**kw))
        pages.append(resp)
        if "LastEvaluatedKey" not in resp:
            break
        kw = dict(kw, ExclusiveStartKey=resp["LastEvaluatedKey"])
    return pages


RANGE_CONDITIONS: list[tuple[str, dict[str, Any]]] = [
    ("", {}),
    (" AND turn_number < :a", {":a": {"N": "7"}}),
    (" AND turn_number <= :a", {":a": {"N": "9"}}),
    (" AND turn_number > :a", {":a": {"N": "8"}}),
    (" AND turn_number >= :a", {":a": {"N": "6"}}),
    (" AND turn_number = :a", {":a": {"N": "9"}}),
    (" AND turn_number BETWEEN :a AND :b", {":a": {"N": "4"}, ":b": {"N": "33"}}),
    (" AND turn_number > :a", {":a": {"N": "2.5"}}),
]


@pytest.mark.parametrize("sid", [*SESSIONS, "s-missing"])
def test_query_matches_plain_moto(servers: tuple[Any, Any], sid: str) -> None:
    limits = [None, 1, 4, 10] if sid == "s-small" else [None, 4, 10]
    for (cond, vals), forward, limit, with_filter in itertools.product(
            RANGE_CONDITIONS, [True, False], limits, [False, True]):
        kw: dict[str, Any] = {"TableName": TABLE, "KeyConditionExpression": "session_id = :sid" + cond,
                              "ExpressionAttributeValues": {":sid": {"S": sid}, **vals},
                              "ScanIndexForward": forward}
        if limit:
            kw["Limit"] = limit
        if with_filter:  # TTL filter applies after Limit, like DynamoDB
            kw["FilterExpression"] = "#t > :now"
            kw["ExpressionAttributeNames"] = {"#t": "ttl"}
            kw["ExpressionAttributeValues"][":now"] = {"N": str(NOW)}
        got, want = _pages_both(servers, **kw)
        assert got == want, f"differs for {kw}"


def test_query_newest_ten_descending(servers: tuple[Any, Any]) -> None:
    fast, _ = servers
    resp = fast.query(TableName=TABLE, KeyConditionExpression="session_id = :sid",
                      ExpressionAttributeValues={":sid": {"S": "s-big"}}, ScanIndexForward=False, Limit=10)
    assert [int(i["turn_number"]["N"]) for i in resp["Items"]] == list(range(25, 15, -1))
    assert resp["LastEvaluatedKey"] == {"session_id": {"S": "s-big"}, "turn_number": {"N": "16"}}


def test_limit_counts_items_before_filter(servers: tuple[Any, Any]) -> None:
    fast, plain = servers
    kw = {"TableName": TABLE, "KeyConditionExpression": "session_id = :sid",
          "FilterExpression": "#t > :now", "ExpressionAttributeNames": {"#t": "ttl"},
          "ExpressionAttributeValues": {":sid": {"S": "s-ten"}, ":now": {"N": str(NOW)}},
          "ScanIndexForward": False, "Limit": 4}
    resp = fast.query(**kw)
    # turns 10,9,8,7 read; ttl = NOW + (t%4-1)h, so 10 (+1h) and 8 (-1h)... only t%4 in {2,3} survive
    assert [i["turn_number"]["N"] for i in resp["Items"]] == ["10", "7"]
    assert resp["ScannedCount"] == 4 and "LastEvaluatedKey" in resp
    assert _strip(resp) == _strip(plain.query(**kw))


def test_expired_ttl_items_are_still_returned(servers: tuple[Any, Any]) -> None:
    fast, _ = servers
    fast.update_time_to_live(TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
    desc = fast.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert desc == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}
    items = fast.query(TableName=TABLE, KeyConditionExpression="session_id = :sid",
                       ExpressionAttributeValues={":sid": {"S": "s-ten"}})["Items"]
    assert any(int(i["ttl"]["N"]) < NOW for i in items) and len(items) == 10


@pytest.mark.parametrize("cond,vals", [
    ("", {}),
    (" AND begins_with(sk, :p)", {":p": {"S": "a#"}}),
    (" AND sk < :p", {":p": {"S": "b"}}),
    (" AND sk BETWEEN :p AND :q", {":p": {"S": "a#10"}, ":q": {"S": "b#1"}}),
])
def test_string_sort_keys_match(servers: tuple[Any, Any], cond: str, vals: dict[str, Any]) -> None:
    for forward, limit in itertools.product([True, False], [None, 2]):
        kw: dict[str, Any] = {"TableName": STR_TABLE, "KeyConditionExpression": "pk = :pk" + cond,
                              "ExpressionAttributeValues": {":pk": {"S": "doc"}, **vals},
                              "ScanIndexForward": forward, "ProjectionExpression": "sk"}
        if limit:
            kw["Limit"] = limit
        got, want = _pages_both(servers, **kw)
        assert got == want


def test_projection_consistent_read_gsi_and_foreign_start_key(servers: tuple[Any, Any]) -> None:
    base = {"TableName": TABLE, "KeyConditionExpression": "session_id = :sid",
            "ExpressionAttributeValues": {":sid": {"S": "s-ten"}}}
    for extra in [{"ProjectionExpression": "turn_number, #m", "ExpressionAttributeNames": {"#m": "meta"}},
                  {"ConsistentRead": True, "ReturnConsumedCapacity": "TOTAL"},
                  {"ExclusiveStartKey": {"session_id": {"S": "s-big"}, "turn_number": {"N": "5"}}},
                  {"ExclusiveStartKey": {"session_id": {"S": "s-ten"}, "turn_number": {"N": "4"}}, "Limit": 2},
                  {"Select": "COUNT"}]:
        a, b = _both(servers, "query", **base, **extra)
        assert a == b, extra
    a, b = _both(servers, "query", TableName=TABLE, IndexName="by_intent",
                 KeyConditionExpression="intent = :i", ExpressionAttributeValues={":i": {"S": "other"}},
                 ScanIndexForward=False, Limit=5)
    assert a == b and len(a["Items"]) == 5
    # Bad input is moto's ValidationException on both.
    a, b = _both(servers, "query", TableName=TABLE, KeyConditionExpression="turn_number = :t",
                 ExpressionAttributeValues={":t": {"N": "1"}})
    assert a == b and a[0] == "error"


def test_crud_and_scan_paths(servers: tuple[Any, Any]) -> None:
    for c in servers:
        c.put_item(TableName=TABLE, Item=_item("s-crud", 2))
        with pytest.raises(ClientError) as exc:
            c.put_item(TableName=TABLE, Item=_item("s-crud", 2),
                       ConditionExpression="attribute_not_exists(turn_number)")
        assert exc.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
        c.batch_write_item(RequestItems={TABLE: [{"PutRequest": {"Item": _item("s-crud", t)}}
                                                 for t in (5, 1, 4, 3)]})
        c.delete_item(TableName=TABLE, Key={"session_id": {"S": "s-crud"}, "turn_number": {"N": "4"}})
        c.batch_write_item(RequestItems={TABLE: [
            {"DeleteRequest": {"Key": {"session_id": {"S": "s-crud"}, "turn_number": {"N": "1"}}}}]})
    q = {"TableName": TABLE, "KeyConditionExpression": "session_id = :sid",
         "ExpressionAttributeValues": {":sid": {"S": "s-crud"}}}
    a, b = _both(servers, "query", **q)
    assert a == b and [i["turn_number"]["N"] for i in a["Items"]] == ["2", "3", "5"]
    a, b = _both(servers, "get_item", TableName=TABLE,
                 Key={"session_id": {"S": "s-crud"}, "turn_number": {"N": "5"}})
    assert a == b and a["Item"]["turn_number"] == {"N": "5"}
    a, b = _both(servers, "get_item", TableName=TABLE,
                 Key={"session_id": {"S": "s-crud"}, "turn_number": {"N": "4"}})
    assert a == b and "Item" not in a
    pages: list[list[Any]] = [[], []]
    for idx, c in enumerate(servers):
        kw: dict[str, Any] = {"TableName": TABLE, "Limit": 17}
        for _ in range(50):
            resp = c.scan(**kw)
            pages[idx].append(_strip(resp))
            if "LastEvaluatedKey" not in resp:
                break
            kw["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
    assert pages[0] == pages[1]
    assert sum(p["Count"] for p in pages[0]) == sum(len(_turns(s)) for s in SESSIONS) + 3


def test_table_lifecycle(servers: tuple[Any, Any]) -> None:
    fast, _ = servers
    fast.create_table(TableName="Tmp", BillingMode="PAY_PER_REQUEST",
                      AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                      KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}])
    assert "Tmp" in fast.list_tables()["TableNames"]
    assert fast.describe_table(TableName="Tmp")["Table"]["TableStatus"] == "ACTIVE"
    fast.put_item(TableName="Tmp", Item={"k": {"S": "one"}})
    # hash-only table: Query falls through to moto unchanged
    assert fast.query(TableName="Tmp", KeyConditionExpression="k = :k",
                      ExpressionAttributeValues={":k": {"S": "one"}})["Count"] == 1
    fast.delete_table(TableName="Tmp")
    assert "Tmp" not in fast.list_tables()["TableNames"]
    with pytest.raises(ClientError) as exc:
        fast.describe_table(TableName="Tmp")
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_query_reads_only_one_partition(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process: with the whole-table path booby-trapped, the indexed Query still answers."""
    from moto.dynamodb.models.table import Table

    from harness.standins import dynamodb as standin

    try:
        _query_one_partition(monkeypatch, standin, Table)
    finally:
        standin.uninstall_patch()


def _query_one_partition(monkeypatch: pytest.MonkeyPatch, standin: Any, table_cls: Any) -> None:
    with standin.DynamoServer(port=0) as srv:
        c = _client(srv.url)
        _load(c)

        def boom(self: Any) -> Any:
            raise AssertionError("Query scanned the whole table")

        monkeypatch.setattr(table_cls, "all_items", boom)
        resp = c.query(TableName=TABLE, KeyConditionExpression="session_id = :sid AND turn_number > :a",
                       ExpressionAttributeValues={":sid": {"S": "s-big"}, ":a": {"N": "20"}},
                       ScanIndexForward=False, Limit=3,
                       ExclusiveStartKey={"session_id": {"S": "s-big"}, "turn_number": {"N": "24"}})
        assert [i["turn_number"]["N"] for i in resp["Items"]] == ["23", "22", "21"]


def test_sorted_partition_stays_sorted_through_mutation_and_copy() -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    from harness.standins.dynamodb import SortedPartition

    p = SortedPartition()
    for n in ["10", "2", "33", "2.5", "-1"]:
        p[DynamoType({"N": n})] = n
    p.pop(DynamoType({"N": "33"}))
    del p[DynamoType({"N": "-1"})]
    p[DynamoType({"N": "2"})] = "again"  # overwrite keeps one key
    assert p.sorted_items() == ["again", "2.5", "10"]
    q = copy.deepcopy(p)
    assert isinstance(q, SortedPartition) and q.sorted_items() == ["again", "2.5", "10"]
    q[DynamoType({"N": "0"})] = "zero"
    assert q.sorted_items()[0] == "zero" and len(p) == 3
    assert p.pop(DynamoType({"N": "99"}), None) is None
    with pytest.raises(KeyError):
        p.pop(DynamoType({"N": "99"}))


def test_cli_ready_line_sigterm_and_bad_port() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "harness.standins.dynamodb", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("dynamodb listening on http://127.0.0.1:")
        assert _client(line.split(" on ", 1)[1].strip()).list_tables()["TableNames"] == []
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=5)
        for f in (proc.stdout, proc.stderr):
            if f:
                f.close()
    bad = subprocess.run([sys.executable, "-m", "harness.standins.dynamodb", "--port", "99999"],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "--port" in bad.stderr and "Traceback" not in bad.stderr
    t0 = time.monotonic()
    bad = subprocess.run([sys.executable, "-m", "harness.standins.dynamodb", "--host", "256.1.1.1"],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr and time.monotonic() - t0 < 30


def test_concurrent_writers_and_readers_on_one_partition(servers: tuple[Any, Any]) -> None:
    """Smoke test: concurrent put/delete/query on one partition (werkzeug runs a thread per
    connection) give no errors, ordered pages and the right final state. The race the index lock
    prevents is too narrow to reproduce reliably here, so this does not prove the lock."""
    fast, _ = servers
    url = fast.meta.endpoint_url
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        c = _client(url)
        try:
            for t in range(offset, offset + 40):
                c.put_item(TableName=TABLE, Item=_item("s-conc", t))
                if t % 3 == 0:
                    c.delete_item(TableName=TABLE, Key={"session_id": {"S": "s-conc"}, "turn_number": {"N": str(t)}})
        except BaseException as e:
            errors.append(e)

    def reader() -> None:
        c = _client(url)
        try:
            for _ in range(60):
                items = c.query(TableName=TABLE, KeyConditionExpression="session_id = :s",
                                ExpressionAttributeValues={":s": {"S": "s-conc"}}, ScanIndexForward=False,
                                Limit=10)["Items"]
                turns = [int(i["turn_number"]["N"]) for i in items]
                assert turns == sorted(turns, reverse=True)
        except BaseException as e:
            errors.append(e)

    import threading

    threads = [threading.Thread(target=writer, args=(o,)) for o in (1000, 2000)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert not errors, errors
    items = fast.query(TableName=TABLE, KeyConditionExpression="session_id = :s",
                       ExpressionAttributeValues={":s": {"S": "s-conc"}})["Items"]
    want = [t for o in (1000, 2000) for t in range(o, o + 40) if t % 3 != 0]
    assert [int(i["turn_number"]["N"]) for i in items] == want
