"""DynamoDB stand-in (backend ``moto-indexed``): moto's server with a fast Query.

Unpatched moto answers ``Query`` by sorting and filtering the whole table, so
the stand-in would be slower than the faults we inject and the design's DynamoDB
p99 < 10 ms goal could not be checked. Rather than re-implement DynamoDB we keep
moto (parsing, validation, expressions, errors) and patch only its hot paths:
partitions keep their range keys sorted, and a base-table Query runs moto's own
query code on a bisect-narrowed slice of one partition, so results stay moto's.
Response serialization, the cyclic GC, access logging and dispatch are trimmed
for the same goal. Like moto, TTL is stored but items never expire, so readers
filter ``ttl > :now`` themselves, as real DynamoDB's lazy deletion requires too.
Measurements: benchmarks/results/{dynamodb_query,measurements-standins}.md.
"""

from __future__ import annotations

import argparse
import bisect
import functools
import gc
import logging
import sys
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import moto.core.responses as moto_responses
from moto.core.serialize import BaseJSONSerializer
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

from harness.standins import configure_logging, listen_arg_parser, parse_listen_args, serve_until_signal
from harness.standins.base import BackgroundServer
from harness.standins.dynamo_faults import ApiFaults

log = logging.getLogger("harness.standins.dynamodb")

NAME = "dynamodb"


_index_lock = threading.RLock()
"""Guards every SortedPartition's (dict, sorted keys) pair: werkzeug serves each
connection on its own thread, and a query must never see a key in the sorted
list whose item a concurrent DeleteItem already removed."""


class SortedPartition(dict[Any, Any]):
    """A partition ``{range_key: Item}`` that also keeps its range keys sorted.

    moto compares range keys by ``cast_value`` (``Decimal`` for N, ``str`` for
    S, ``bytes`` for B), and one partition only ever holds one key type (moto's
    ``put_item`` enforces the schema type), so a parallel sorted list of cast
    values gives ``bisect`` lookups with moto's exact ordering. Every way moto
    mutates a partition (``__setitem__`` from put_item, ``pop`` from
    delete_item, ``copy.deepcopy`` on restore) keeps the two in step.
    """

    def __init__(self, data: Mapping[Any, Any] | Iterable[tuple[Any, Any]] = ()) -> None:
        super().__init__()
        self._casts: list[Any] = []
        self._keys: list[Any] = []
        self.update(data)

    # -- mutation -------------------------------------------------------
    def __setitem__(self, key: Any, value: Any) -> None:
        with _index_lock:
            if key not in self:
                cast = key.cast_value
                i = bisect.bisect_left(self._casts, cast)
                self._casts.insert(i, cast)
                self._keys.insert(i, key)
            super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        with _index_lock:
            super().__delitem__(key)
            self._forget(key)

    def _forget(self, key: Any) -> None:
        cast = key.cast_value
        i = bisect.bisect_left(self._casts, cast)
        while i < len(self._keys) and self._casts[i] == cast:
            if self._keys[i] == key:
                del self._casts[i]
                del self._keys[i]
                return
            i += 1
        # Not found by bisect (should not happen): fall back to a linear search.
        for j, k in enumerate(self._keys):  # pragma: no cover - defensive
            if k == key:
                del self._casts[j]
                del self._keys[j]
                return

    _MISSING = object()

    def pop(self, key: Any, default: Any = _MISSING) -> Any:
        with _index_lock:
            if key in self:
                value = super().pop(key)
                self._forget(key)
                return value
        if default is SortedPartition._MISSING:
            raise KeyError(key)
        return default

    def popitem(self) -> tuple[Any, Any]:
        with _index_lock:
            key, value = super().popitem()
            self._forget(key)
            return key, value

    def clear(self) -> None:
        with _index_lock:
            super().clear()
            self._casts.clear()
            self._keys.clear()

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other: Any) -> SortedPartition:  # type: ignore[misc]
        self.update(other)
        return self

    # -- copying / pickling: rebuild through __init__ so the index follows ----
    def __reduce__(self) -> tuple[Callable[..., SortedPartition], tuple[dict[Any, Any]]]:
        return (SortedPartition, (dict(self),))

    def __deepcopy__(self, memo: dict[int, Any]) -> SortedPartition:
        import copy

        return SortedPartition({copy.deepcopy(k, memo): copy.deepcopy(v, memo) for k, v in self.items()})

    def copy(self) -> SortedPartition:
        return SortedPartition(self)

    # -- reads -----------------------------------------------------------
    def sorted_items(self, lo: int = 0, hi: int | None = None) -> list[Item]:
        """Items in ascending range-key order, optionally a slice of it."""
        keys = self._keys[lo:hi]
        return [dict.__getitem__(self, k) for k in keys]

    def bounds(self, low: Any = None, low_inclusive: bool = True,
               high: Any = None, high_inclusive: bool = True) -> tuple[int, int]:
        """Index range ``[lo, hi)`` of the keys between ``low`` and ``high`` (cast values)."""
        lo = 0
        hi = len(self._casts)
        if low is not None:
            lo = (bisect.bisect_left if low_inclusive else bisect.bisect_right)(self._casts, low)
        if high is not None:
            hi = (bisect.bisect_right if high_inclusive else bisect.bisect_left)(self._casts, high)
        return lo, max(lo, hi)


class _PartitionView:
    """Stands in for a :class:`Table` inside moto's own ``Table.query`` code.

    Every attribute is the table's, except ``all_items()``, which returns only
    the items moto's query loop could possibly return (one partition, sorted,
    bisect-narrowed). moto then re-checks everything, so semantics are moto's.
    """

    def __init__(self, table: Table, items: list[Item]) -> None:
        self._table = table
        self._items = items

    def all_items(self) -> list[Item]:
        return self._items

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


# Range comparisons whose matching keys form one contiguous span of the sort order.
_LOWER_INCLUSIVE = {"GE": True, ">=": True, "GT": False, ">": False}
_UPPER_INCLUSIVE = {"LE": True, "<=": True, "LT": False, "<": False}
_EQUAL = {"EQ", "="}


def _matching_span(part: SortedPartition, key_type: str, comparison: str | None,
                   objs: list[DynamoType]) -> tuple[int, int] | None:
    """Index span ``[lo, hi)`` of exactly the keys matching ``comparison``, or None if unknown.

    moto compares ``cast_value``s; our sorted list holds the same cast values, so
    for ``< <= > >= = BETWEEN`` the matches are exactly one contiguous span.
    """
    if not comparison:
        return 0, len(part)
    if not objs or any(o.type != key_type for o in objs):
        return None
    op = comparison.upper()
    try:
        casts = [o.cast_value for o in objs]
        if op in _LOWER_INCLUSIVE:
            return part.bounds(low=casts[0], low_inclusive=_LOWER_INCLUSIVE[op])
        if op in _UPPER_INCLUSIVE:
            return part.bounds(high=casts[0], high_inclusive=_UPPER_INCLUSIVE[op])
        if op in _EQUAL:
            return part.bounds(low=casts[0], high=casts[0])
        if op == "BETWEEN" and len(casts) == 2:
            return part.bounds(low=casts[0], high=casts[1])
    except TypeError:  # incomparable values: let moto decide
        pass
    return None


def _query_window(part: SortedPartition, span: tuple[int, int] | None, esk_cast: Any,
                  has_esk: bool, forward: bool, limit: int | None) -> tuple[int, int]:
    """The slice of the sorted partition that moto's query loop would actually look at.

    moto walks candidates in scan direction, skips those up to the start key,
    appends matching ones, and stops (emitting ``LastEvaluatedKey``) at the first
    candidate *of any kind* after ``Limit`` matches. So the slice may start at the
    first matching key after the start key, and, when the ``Limit + 1`` keys
    from there all match, end right after them; otherwise (unknown span, or the
    span runs out inside that window) it must run to the partition's far end so
    moto sees the same trailing candidates it would see without us.
    """
    n = len(part)
    lo, hi = span if span is not None else (0, n)
    if forward:
        start = max(lo, bisect.bisect_right(part._casts, esk_cast)) if has_esk else lo
        if span is not None and limit is not None and start + limit + 1 <= hi:
            return start, start + limit + 1
        return min(start, n), n
    end = min(hi, bisect.bisect_left(part._casts, esk_cast)) if has_esk else hi
    if span is not None and limit is not None and end - (limit + 1) >= lo:
        return end - (limit + 1), end
    return 0, max(end, 0)


_original_query: Callable[..., Any] = Table.query
_original_init: Callable[..., Any] = Table.__init__


def _indexed_query(self: Table, hash_key: DynamoType | None, range_comparison: str | None,
                   range_objs: list[DynamoType], limit: int, exclusive_start_key: dict[str, Any] | None,
                   scan_index_forward: bool, projection_expressions: list[list[str]] | None,
                   index_name: str | None = None, consistent_read: bool = False,
                   filter_expression: Any = None, **kwargs: Any) -> Any:
    """``Table.query`` that reads one partition instead of the whole table.

    GSI/LSI queries, legacy ``QueryFilter``, hash-only tables and an
    ``ExclusiveStartKey`` from another partition fall through to moto unchanged.
    """
    args = (hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
            projection_expressions, index_name, consistent_read, filter_expression)
    part = self.items.get(hash_key) if hash_key is not None else None
    if (index_name or hash_key is None or not self.has_range_key
            or any(k not in ("hash_key_conditions", "range_key_conditions") for k in kwargs)):
        return _original_query(self, *args, **kwargs)
    if part is None:
        return _original_query(_PartitionView(self, []), *args, **kwargs)
    if not isinstance(part, SortedPartition):  # a table created before the patch
        return _original_query(self, *args, **kwargs)

    range_conditions = kwargs.get("range_key_conditions") or []
    other_attr = bool(range_conditions) and range_conditions[-1][0] != self.range_key_attr
    esk_cast: Any = None
    if exclusive_start_key is not None:
        esk_hash = exclusive_start_key.get(self.hash_key_attr)
        esk_range = exclusive_start_key.get(str(self.range_key_attr))
        if (esk_hash is None or esk_range is None or DynamoType(esk_hash) != hash_key
                or DynamoType(esk_range).type != self.range_key_type):
            return _original_query(self, *args, **kwargs)
        esk_cast = DynamoType(esk_range).cast_value
    with _index_lock:
        # a comparison on some other attribute (span None) is not narrowed
        span = None if other_attr else _matching_span(part, str(self.range_key_type), range_comparison,
                                                      range_objs)
        lo, hi = _query_window(part, span, esk_cast, exclusive_start_key is not None,
                               scan_index_forward is not False, limit if isinstance(limit, int) else None)
        window = part.sorted_items(lo, hi)
    return _original_query(_PartitionView(self, window), *args, **kwargs)


def _patched_init(self: Table, *args: Any, **kwargs: Any) -> None:
    _original_init(self, *args, **kwargs)
    self.items = defaultdict(SortedPartition)


_STR_TYPES = frozenset({"S", "N"})
_STR_SET_TYPES = frozenset({"SS", "NS"})
_BOOL_TYPES = frozenset({"BOOL", "NULL"})


def _plain_attribute_value(value: Any, depth: int = 0) -> bool:
    """True when ``value`` is an AttributeValue moto's JSON serializer would copy verbatim.

    That is every type except binary (``B``/``BS`` get base64-encoded) with
    already-canonical Python values (str for S/N, bool for BOOL/NULL).
    """
    if not isinstance(value, dict) or len(value) != 1 or depth > 32:
        return False
    ((kind, inner),) = value.items()
    if kind in _STR_TYPES:
        return isinstance(inner, str)
    if kind in _BOOL_TYPES:
        return isinstance(inner, bool)
    if kind in _STR_SET_TYPES:
        return isinstance(inner, list) and all(isinstance(v, str) for v in inner)
    if kind == "L":
        return isinstance(inner, list) and all(_plain_attribute_value(v, depth + 1) for v in inner)
    if kind == "M":
        return isinstance(inner, dict) and all(
            isinstance(k, str) and _plain_attribute_value(v, depth + 1) for k, v in inner.items())
    return False


def _fast_serialize_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
    """Copy plain DynamoDB AttributeValues straight through moto's JSON serializer.

    moto 5.2's generic serializer walks every attribute through its botocore
    shape model (about 1.5 ms per returned item here), which made a 10-item
    Query cost ~8 ms in serialization alone. For an ``AttributeValue`` without
    binary members, the walk is the identity, so we skip it.
    """
    if key and getattr(shape, "name", None) == "AttributeValue" and _plain_attribute_value(value):
        self._default_serialize(serialized, value, shape, key)
        return
    _original_serialize_structure(self, serialized, value, shape, key)


_original_serialize_structure: Callable[..., Any] = BaseJSONSerializer._serialize_type_structure
_original_method_names: Callable[[object], list[str]] = moto_responses.method_names_from_class


@functools.lru_cache(maxsize=256)
def _cached_method_names(clazz: object) -> list[str]:
    """moto lists a handler class's methods with ``inspect.getmembers`` on *every* request."""
    return _original_method_names(clazz)


_patch_lock = threading.Lock()
_patched = False


def install_patch() -> None:
    """Patch moto's ``Table`` in this process (idempotent)."""
    global _patched
    with _patch_lock:
        if _patched:
            return
        Table.__init__ = _patched_init  # type: ignore[method-assign]
        Table.query = _indexed_query  # type: ignore[method-assign,assignment]
        BaseJSONSerializer._serialize_type_structure = _fast_serialize_structure  # type: ignore[method-assign]
        moto_responses.method_names_from_class = _cached_method_names
        _patched = True


def uninstall_patch() -> None:
    """Restore moto's original ``Table`` (tables created meanwhile keep SortedPartition, harmlessly)."""
    global _patched
    with _patch_lock:
        if not _patched:
            return
        Table.__init__ = _original_init  # type: ignore[method-assign]
        Table.query = _original_query  # type: ignore[method-assign]
        BaseJSONSerializer._serialize_type_structure = (  # type: ignore[method-assign]
            _original_serialize_structure)
        moto_responses.method_names_from_class = _original_method_names  # type: ignore[assignment]
        _patched = False


def is_patched() -> bool:
    """True while moto's ``Table`` runs the indexed query."""
    return _patched


class DynamoServer(BackgroundServer):
    """moto's WSGI app on a werkzeug threaded server in a background thread.

    Same construction as ``moto.server.ThreadedMotoServer`` but it binds first
    (so port 0 works and the real port is known before anyone connects).
    """

    standin_name = NAME

    def __init__(self, host: str = "127.0.0.1", port: int = 0, indexed: bool = True) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        if indexed:
            install_patch()
        # werkzeug logs one INFO line per request; at thousands of requests/s that
        # is both log spam and measurable latency.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        class _Dispatcher(DomainDispatcherApplication):
            """moto's host/credential-scope dispatcher, short-circuited for DynamoDB calls.

            Finding the backend walks every moto service's URL patterns under a
            global lock on each request; DynamoDB requests always carry
            ``X-Amz-Target: DynamoDB_20120810.*``, so remember their app.
            """

            _dynamodb_app: Any = None

            def get_application(self, environ: dict[str, Any]) -> Any:
                target = environ.get("HTTP_X_AMZ_TARGET", "")
                if target.startswith("DynamoDB_"):
                    if self._dynamodb_app is None:
                        self._dynamodb_app = super().get_application(environ)
                    return self._dynamodb_app
                return super().get_application(environ)

        # API-level faults (throttling, internal errors) sit in front of moto: see dynamo_faults.
        app = ApiFaults(_Dispatcher(create_backend_app))
        self._server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
        self._stopping = threading.Event()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def _serve(self) -> None:
        self._server.serve_forever()

    def freeze_heap_periodically(self, interval_s: float = 1.0) -> None:
        """Move long-lived objects out of the cyclic GC's reach, every ``interval_s``.

        With 100k items moto holds millions of objects; a full (generation 2)
        collection over them stalled requests for ~0.9 s at 100k items. Items
        are freed by reference counting when deleted (they hold no cycles), so
        freezing the heap costs nothing but removes those pauses.
        """
        def _loop() -> None:
            while not self._stopping.wait(interval_s):
                gc.freeze()

        threading.Thread(target=_loop, name="dynamodb-gc-freeze", daemon=True).start()

    def _shutdown(self) -> None:
        self._stopping.set()
        self._server.shutdown()

    def _close(self) -> None:
        self._server.server_close()


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = listen_arg_parser(NAME, "DynamoDB stand-in: moto server with an indexed Query.")
    p.add_argument("--plain", action="store_true",
                   help="serve unpatched moto (slow Query), for comparison benchmarks")
    return parse_listen_args(p, argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``python -m harness.standins.dynamodb``."""
    args = _parse_args(argv)
    configure_logging()
    try:
        server = DynamoServer(args.host, args.port, indexed=not args.plain)
    except OSError as exc:
        print(f"dynamodb: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    server.start()
    server.freeze_heap_periodically()
    log.info("moto %s (indexed query: %s)", "plain" if args.plain else "patched", is_patched())
    return serve_until_signal(NAME, server.url, server.stop)


if __name__ == "__main__":
    sys.exit(main())
