"""The one interface every toxic implements, plus the toxic registry.

Why: Toxiproxy's ``toxics/`` package gives each fault one small ``Pipe(stub)``
function and a registry keyed by type name; the proxy machinery never knows
which toxic it runs.  We keep that shape: a toxic is an immutable bag of
validated attributes with an ``async pipe(stub)`` coroutine.  Per-connection
state lives on the stub (``stub.state``), so one toxic object serves every
connection, and updating a toxic swaps in a new object.

Each toxic declares ``schema`` (attribute name -> ``int`` or ``float``).  The
schema drives validation (Go's "cannot unmarshal string into Go struct field
TimeoutToxic.attributes.timeout of type int64"), defaulting (missing -> 0) and
the attribute order in JSON answers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

from harness.toxiproxy.gojson import Float32, GoJSONError, field_type_error
from harness.toxiproxy.stream import Chunk


class Interrupted(Exception):
    """Raised by ``stub.recv()`` when the toxic is being replaced or removed."""


class RecvTimeout(Exception):
    """Raised by ``stub.recv(deadline=...)`` when the deadline passes first."""


class StubAPI(Protocol):
    """What a toxic may do with the per-connection stub it runs on."""

    state: Any

    async def recv(self, deadline: float | None = None) -> Chunk | None:
        """Next chunk, ``None`` at end of stream; raises Interrupted / RecvTimeout."""
        ...

    def send(self, chunk: Chunk) -> None:
        """Pass a chunk to the next toxic (never blocks)."""
        ...

    def close(self) -> None:
        """End this link: everything already sent still flows, then the connection closes."""
        ...

    async def sleep(self, seconds: float) -> bool:
        """Sleep; ``False`` if interrupted before the time was up."""
        ...

    async def sleep_until(self, when: float) -> bool:
        """Sleep until ``time.monotonic()`` reaches ``when``; ``False`` if interrupted."""
        ...

    async def sleep_uninterruptible(self, seconds: float) -> None:
        """Sleep ignoring interrupts (reset_peer's wait, as in Go)."""
        ...

    def unrecv(self, items: list[Chunk | None]) -> None:
        """Give received-but-unprocessed items back to the head of the input."""
        ...

    def now(self) -> float:
        """Current ``time.monotonic()``."""
        ...


class Toxic(ABC):
    """Base class: validated attributes + the ``pipe`` coroutine."""

    type_name: ClassVar[str]
    go_struct: ClassVar[str]
    schema: ClassVar[dict[str, type]] = {}
    go_int_type: ClassVar[str] = "int64"

    def __init__(self, attributes: Mapping[str, int | float] | None = None) -> None:
        attrs = dict(attributes or {})
        self.attributes: dict[str, int | float] = {
            name: attrs.get(name, kind(0)) for name, kind in self.schema.items()
        }

    def int_attr(self, name: str) -> int:
        """An attribute as an int (all current toxics use integer attributes)."""
        return int(self.attributes[name])

    @classmethod
    def validate(cls, raw: Any, base: Mapping[str, int | float] | None = None) -> dict[str, int | float]:
        """Merge the JSON ``attributes`` object ``raw`` into ``base`` with Go's typing rules.

        Unknown keys are ignored, ``null`` leaves a value unchanged, a wrongly
        typed value raises :class:`GoJSONError` naming the Go struct field.
        """
        merged: dict[str, int | float] = {name: kind(0) for name, kind in cls.schema.items()}
        if base:
            merged.update({k: v for k, v in base.items() if k in cls.schema})
        if raw is None:
            return merged
        if not isinstance(raw, dict):
            raise field_type_error(raw, "ToxicWrapper.attributes", f"toxics.{cls.go_struct}")
        for name, kind in cls.schema.items():
            if name not in raw or raw[name] is None:
                continue
            value = raw[name]
            field = f"{cls.go_struct}.attributes.{name}"
            if kind is int:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise field_type_error(value, field, cls.go_int_type)
                merged[name] = value
            else:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise field_type_error(value, field, "float64")
                merged[name] = float(value)
        return merged

    def new_state(self) -> Any:
        """Per-connection state kept across restarts of this toxic's stub (Go StatefulToxic)."""
        return None

    def cleanup(self, stub: StubAPI) -> None:  # noqa: B027 - optional hook
        """Called when the toxic is removed from a live link (Go CleanupToxic)."""

    @abstractmethod
    async def pipe(self, stub: StubAPI) -> None:
        """Move chunks from ``stub`` input to output until EOF or interruption."""


REGISTRY: dict[str, type[Toxic]] = {}


def register(cls: type[Toxic]) -> type[Toxic]:
    """Class decorator: make ``cls`` creatable by its ``type_name``."""
    REGISTRY[cls.type_name] = cls
    return cls


def lookup(type_name: Any) -> type[Toxic] | None:
    """The toxic class registered for ``type_name`` or ``None``."""
    if not isinstance(type_name, str):
        return None
    return REGISTRY.get(type_name)


__all__ = [
    "REGISTRY",
    "GoJSONError",
    "Interrupted",
    "RecvTimeout",
    "StubAPI",
    "Toxic",
    "lookup",
    "register",
]


class ToxicWrapper:
    """A toxic as the API sees it: name, type, stream, toxicity + the Toxic object."""

    __slots__ = ("direction", "name", "stream", "toxic", "toxicity", "type")

    def __init__(self, name: str, type_: str, stream: str, toxicity: float, toxic: Toxic) -> None:
        self.name = name
        self.type = type_
        self.stream = stream
        self.direction = stream.lower()
        self.toxicity = toxicity
        self.toxic = toxic

    def to_json(self) -> dict[str, Any]:
        return {
            "attributes": dict(self.toxic.attributes),
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": Float32(self.toxicity),
        }
