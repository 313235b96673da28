"""DynamoDB access for the ``ChatSessions`` table over aiobotocore.

Why these client settings: the breaker and the outbox own failure handling, so
botocore must not hide retries underneath them (``total_max_attempts=1``: one
attempt in total; ``max_attempts`` would mean *retries* and allow a second
try).  Connect/read timeouts are explicit backstops; the per-call bound the
design talks about (200 ms) is enforced by the breaker around each call.
"""

from __future__ import annotations

import os
import time
from contextlib import AsyncExitStack
from decimal import Decimal
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError, HTTPClientError, ParamValidationError

from reference_service.memory.breaker import CallTimeout
from reference_service.turns import Turn

_SER = TypeSerializer()
_DESER = TypeDeserializer()


THROTTLING_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "Throttling", "TooManyRequestsException", "LimitExceededException",
})
"""4xx codes that mean "DynamoDB is overloaded", i.e. a dependency failure after all."""


class UnencodableItem(ValueError):
    """A turn whose text is not valid Unicode (a lone surrogate): no DynamoDB can store it."""


def _error_parts(exc: ClientError) -> tuple[str, int]:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code, status


def is_client_error(exc: BaseException) -> bool:
    """True when the *request* was bad, so DynamoDB being healthy is not in question.

    A ``ValidationException`` (or any 4xx but throttling) is DynamoDB answering
    promptly that this one item is wrong; counting it as a dependency failure
    lets one poison turn open the breaker for every user.  Requests refused
    before they are sent (unencodable text, botocore's parameter validation)
    are the same kind of error.
    """
    if isinstance(exc, UnencodableItem | ParamValidationError | UnicodeError):
        return True
    if isinstance(exc, ClientError):
        code, status = _error_parts(exc)
        return 400 <= status < 500 and status != 429 and code not in THROTTLING_CODES
    return False


def is_transient(exc: BaseException) -> bool:
    """True for the symptoms of a slow or unreachable DynamoDB (timeouts, connections, throttling)."""
    if isinstance(exc, CallTimeout | TimeoutError | OSError | HTTPClientError):
        return True
    if isinstance(exc, ClientError):
        code, status = _error_parts(exc)
        return status == 429 or code in THROTTLING_CODES
    return False


def check_encodable(turn: Turn) -> None:
    """Raise :class:`UnencodableItem` before sending a turn whose strings are not valid UTF-8.

    DynamoDB rejects such a request; some stand-ins answer it with a 500
    instead, which would read as an outage.  Checking here makes the answer
    the same everywhere: a client error, before any bytes leave.
    """
    for name in ("session_id", "customer_id", "user_message", "assistant_reply", "intent"):
        value = getattr(turn, name)
        if value is None:
            continue
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise UnencodableItem(f"{name} is not valid Unicode text") from None


def turn_to_item(turn: Turn) -> dict[str, Any]:
    """A ``Turn`` as a DynamoDB attribute map (``customer_id`` NULL for guests)."""
    return {k: _SER.serialize(v) for k, v in turn.to_dict().items()}


def item_to_turn(item: dict[str, Any]) -> Turn:
    """A DynamoDB attribute map back into a ``Turn``."""
    plain = {k: _DESER.deserialize(v) for k, v in item.items()}
    for key, value in plain.items():
        if isinstance(value, Decimal):
            plain[key] = int(value)
    return Turn.from_dict(plain)


class DynamoStore:
    """The ``ChatSessions`` table: create, query the newest turns, put turns."""

    def __init__(
        self,
        endpoint_url: str,
        table: str = "ChatSessions",
        region: str = "us-east-1",
        connect_timeout_s: float = 1.0,
        read_timeout_s: float = 10.0,
        max_pool_connections: int = 128,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.table = table
        self.region = region
        # One attempt: the breaker's timeout bounds each call, and SDK retries inside it would
        # hide failures from the breaker (the retry policy is in /debug/memory and run.json).
        self.client_config = {"connect_timeout_s": connect_timeout_s, "read_timeout_s": read_timeout_s,
                              "retries": {"total_max_attempts": 1, "mode": "standard"},
                              "max_pool_connections": max_pool_connections}
        self._config = AioConfig(
            connect_timeout=connect_timeout_s,
            read_timeout=read_timeout_s,
            retries={"total_max_attempts": 1, "mode": "standard"},
            max_pool_connections=max_pool_connections,
        )
        self._stack = AsyncExitStack()
        self._client: Any = None
        self.ttl_enforced = True  # False when this DynamoDB has no TTL operations (dynalite)

    async def start(self) -> None:
        """Open the HTTP client (does not touch the network)."""
        session = get_session()
        self._client = await self._stack.enter_async_context(
            session.create_client(
                "dynamodb",
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
                aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
                config=self._config,
            )
        )

    async def close(self) -> None:
        """Close the HTTP client."""
        await self._stack.aclose()
        self._client = None

    @property
    def client(self) -> Any:
        """The raw aiobotocore client (for tests and tools)."""
        if self._client is None:
            raise RuntimeError("DynamoStore.start() was not called")
        return self._client

    async def ensure_table(self) -> bool:
        """Create the table if missing and enable TTL on ``ttl``; True if it was created."""
        created = False
        try:
            await self.client.describe_table(TableName=self.table)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            try:
                await self.client.create_table(
                    TableName=self.table,
                    KeySchema=[
                        {"AttributeName": "session_id", "KeyType": "HASH"},
                        {"AttributeName": "turn_number", "KeyType": "RANGE"},
                    ],
                    AttributeDefinitions=[
                        {"AttributeName": "session_id", "AttributeType": "S"},
                        {"AttributeName": "turn_number", "AttributeType": "N"},
                    ],
                    BillingMode="PAY_PER_REQUEST",
                )
                created = True
            except ClientError as exc2:
                if exc2.response["Error"]["Code"] != "ResourceInUseException":
                    raise
            waiter = self.client.get_waiter("table_exists")
            await waiter.wait(TableName=self.table, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
        try:
            ttl = await self.client.describe_time_to_live(TableName=self.table)
            if ttl.get("TimeToLiveDescription", {}).get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
                await self.client.update_time_to_live(
                    TableName=self.table,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"},
                )
        except ClientError as exc:
            # dynalite has no TTL operations. Retrying would never succeed and would keep
            # calling DynamoDB outside the breaker all run long (the wire caught it while
            # the breaker was open); items still carry ``ttl``, and reads filter on it.
            if exc.response["Error"]["Code"] != "UnknownOperationException":
                raise
            self.ttl_enforced = False
        return created

    async def query_newest_literal(self, session_id: str, limit: int = 10) -> list[Turn]:
        """The seed's read, verbatim: one page, ``Limit=limit``, no TTL filter; chronological."""
        resp = await self.client.query(
            TableName=self.table,
            KeyConditionExpression="session_id = :sid",
            ExpressionAttributeValues={":sid": {"S": session_id}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [item_to_turn(i) for i in reversed(resp.get("Items", []))]

    async def query_newest_live(
        self, session_id: str, n: int = 10, now: float | None = None
    ) -> tuple[list[Turn], int]:
        """The newest ``n`` turns whose ``ttl`` is in the future, chronological; also the page count.

        ``Limit`` counts items before the filter drops expired ones, so a page
        can come back short with a ``LastEvaluatedKey``: keep paging until we
        have ``n`` live turns or the partition ends.
        """
        now_s = int(now if now is not None else time.time())
        live: list[Turn] = []
        start_key: dict[str, Any] | None = None
        pages = 0
        limit = n
        while True:
            kwargs: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "session_id = :sid",
                "FilterExpression": "#ttl > :now",
                "ExpressionAttributeNames": {"#ttl": "ttl"},
                "ExpressionAttributeValues": {":sid": {"S": session_id}, ":now": {"N": str(now_s)}},
                "ScanIndexForward": False,
                "Limit": limit,
            }
            if start_key:
                kwargs["ExclusiveStartKey"] = start_key
            resp = await self.client.query(**kwargs)
            pages += 1
            live.extend(item_to_turn(i) for i in resp.get("Items", []))
            start_key = resp.get("LastEvaluatedKey")
            if len(live) >= n or not start_key:
                break
            limit = min(100, limit * 2)  # expired runs are usually long: widen the page
        return list(reversed(live[:n])), pages

    async def put_turn(self, turn: Turn) -> int:
        """Unconditional PutItem (the seed's write); returns the item size in bytes (approx.)."""
        item = turn_to_item(turn)
        await self.client.put_item(TableName=self.table, Item=item)
        return len(turn.to_json())

    async def put_turn_if_free(self, turn: Turn) -> bool:
        """PutItem only if ``turn_number`` is free (or already holds this very turn).

        The second arm makes a retried write idempotent: a put that timed out on
        our side may still have landed, and replaying it must not count as a
        conflict.  Returns False on a real conflict (another turn owns the number).
        """
        check_encodable(turn)
        try:
            await self.client.put_item(
                TableName=self.table,
                Item=turn_to_item(turn),
                ConditionExpression=(
                    "attribute_not_exists(turn_number) OR "
                    "(#ts = :ts AND user_message = :um AND assistant_reply = :ar)"
                ),
                ExpressionAttributeNames={"#ts": "timestamp"},
                ExpressionAttributeValues={
                    ":ts": {"N": str(turn.timestamp)},
                    ":um": {"S": turn.user_message},
                    ":ar": {"S": turn.assistant_reply},
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    async def max_turn_number(self, session_id: str) -> int:
        """The highest stored turn number of a session (0 if none), expired or not."""
        resp = await self.client.query(
            TableName=self.table,
            KeyConditionExpression="session_id = :sid",
            ExpressionAttributeValues={":sid": {"S": session_id}},
            ScanIndexForward=False,
            Limit=1,
            ProjectionExpression="turn_number",
        )
        items = resp.get("Items", [])
        return int(items[0]["turn_number"]["N"]) if items else 0
