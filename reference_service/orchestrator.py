"""One chat turn end to end: read memory, understand, call the LLM, write memory.

Why it is separate from the web layer: the same turn logic serves ``POST /chat``
and the WebSocket, and the variant differences live entirely in the memory
read/write classes it is given, so this file reads like the design's
``process_message``.  A failed read lowers the degradation level.  A write
that raises (only the seed's literal ``save_turn`` does; the hardened writer
reports ``persisted: false`` instead) fails the turn as :class:`TurnFailed`,
which the web layer renders as a 500 carrying the turn's ``debug_metadata``.

At level 2+ (stateless) the reply carries the design's plain notice: when the
message needs context that is gone (the language layer reports an unresolved
reference) the reply *is* the notice; otherwise the message is answered on its
own and the notice is prepended.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

from reference_service.events import EventLog
from reference_service.llm import LLMClient
from reference_service.memory.history import HistoryResult
from reference_service.memory.writer import WriteResult, make_turn
from reference_service.metrics import Metrics
from reference_service.turns import Turn


class NLU(Protocol):
    """The language layer's interface (``reference_service.nlu``)."""

    STATELESS_NOTICE: str
    CLARIFY_TEMPLATE: str

    def understand(self, message: str, history: list[Turn]) -> Any:
        """Intent, resolved query, focus, format, unresolved reference."""

    def retrieve(self, u: Any, k: int = 5) -> list[Any]:
        """Catalogue chunks for the understood message."""

    def build_prompt(self, history: list[Turn], u: Any, docs: list[Any]) -> Any:
        """``.system``, ``.messages``, ``.max_tokens``."""


class HistoryReader(Protocol):
    """A variant's read path."""

    async def load(self, session_id: str) -> HistoryResult:
        """Load the window and report its degradation level."""


class TurnWriter(Protocol):
    """A variant's write path."""

    async def allocate(self, session_id: str, max_turn_seen: int) -> int:
        """The number of the turn being written."""

    async def save(self, turn: Turn) -> WriteResult:
        """Persist the turn."""


@dataclass(slots=True)
class TurnOutcome:
    """The response body plus the timings for ``Server-Timing``."""

    body: dict[str, Any]
    memory_ms: float
    llm_ms: float
    total_ms: float

    def server_timing(self) -> str:
        """The ``Server-Timing`` header value."""
        return f"memory;dur={self.memory_ms:.2f}, llm;dur={self.llm_ms:.2f}, total;dur={self.total_ms:.2f}"


def clarify(template: str, phrase: str) -> str:
    """Fill the language layer's clarification template with the unresolved phrase."""
    for attempt in (lambda: template.format(phrase=phrase), lambda: template.format(phrase), lambda: template % phrase):
        try:
            return attempt()
        except (KeyError, IndexError, TypeError, ValueError):
            continue
    return template


class TurnFailed(Exception):
    """The reply was composed but ``save_turn`` raised, so the request fails as the design's code would."""

    def __init__(self, session_id: str, turn_number: int, debug_metadata: dict[str, Any], cause: BaseException):
        super().__init__(f"{type(cause).__name__}: {cause}"[:300])
        self.session_id = session_id
        self.turn_number = turn_number
        self.debug_metadata = debug_metadata
        self.cause = cause

    def body(self) -> dict[str, Any]:
        """The 500 body: the usual error pair plus what the harness needs to place the turn."""
        return {
            "error": "save_turn_failed",
            "detail": f"the turn could not be saved: {self}",
            "session_id": self.session_id,
            "turn_number": self.turn_number,
            "persisted": False,
            "debug_metadata": self.debug_metadata,
        }


class Orchestrator:
    """Runs turns against one variant's memory paths."""

    def __init__(
        self,
        nlu: NLU,
        history: HistoryReader,
        writer: TurnWriter,
        llm: LLMClient,
        events: EventLog,
        metrics: Metrics,
    ) -> None:
        self.nlu = nlu
        self.history = history
        self.writer = writer
        self.llm = llm
        self.events = events
        self.metrics = metrics

    async def turn(
        self, session_id: str, message: str, *, new_session: bool, transport: str = "http",
        customer_id: str | None = None,
    ) -> TurnOutcome:
        """Answer one message in a session (``new_session``: skip the history read)."""
        t0 = time.perf_counter()
        hist = HistoryResult() if new_session else await self.history.load(session_id)
        t_read = time.perf_counter()

        stateless = hist.level >= 2
        context = [] if stateless else hist.turns
        u = self.nlu.understand(message, context)
        llm_ms = 0.0
        unresolved = getattr(u, "unresolved_reference", None)
        if unresolved:
            reply = self.nlu.STATELESS_NOTICE if stateless else clarify(self.nlu.CLARIFY_TEMPLATE, unresolved)
        else:
            docs = self.nlu.retrieve(u, k=5)
            prompt = self.nlu.build_prompt(context, u, docs)
            t_llm = time.perf_counter()
            answer = await self.llm.complete(prompt.system, prompt.messages, prompt.max_tokens)
            llm_ms = (time.perf_counter() - t_llm) * 1000.0
            self.metrics.llm_seconds.labels("ok" if answer.ok else "error").observe(llm_ms / 1000.0)
            if not answer.ok:
                self.events.emit("llm", session_id=session_id, outcome="error", error=answer.error)
            reply = f"{self.nlu.STATELESS_NOTICE} {answer.text}" if stateless else answer.text

        t_write = time.perf_counter()
        number = await self.writer.allocate(session_id, hist.max_turn_seen)
        intent = str(getattr(u, "intent", "other"))
        try:
            written = await self.writer.save(make_turn(session_id, number, customer_id, message, reply, intent))
        except Exception as exc:
            self.events.emit("turn_failed", session_id=session_id, turn_number=number, level=hist.level,
                             memory_mode=hist.memory_mode, error=f"{type(exc).__name__}: {exc}"[:300])
            raise TurnFailed(session_id, number, hist.debug_metadata(), exc) from exc
        t_end = time.perf_counter()

        memory_ms = ((t_read - t0) + (t_end - t_write)) * 1000.0
        total_ms = (t_end - t0) * 1000.0
        number = written.turn.turn_number
        meta = hist.debug_metadata()
        body = {
            "session_id": session_id,
            "turn_number": number,
            "response": reply,
            "intent": intent,
            "resolved_query": str(getattr(u, "resolved_query", message)),
            "persisted": written.persisted,
            "debug_metadata": meta,
        }
        if hist.level > 0:
            self.events.emit("degradation", session_id=session_id, turn_number=number, level=hist.level,
                             memory_mode=hist.memory_mode, reason=hist.reason)
        if stateless:
            self.metrics.stateless_session(session_id)
        self.metrics.requests.labels(hist.memory_mode, transport).inc()
        self.events.emit(
            "chat", session_id=session_id, turn_number=number, level=hist.level, memory_mode=hist.memory_mode,
            persisted=written.persisted, memory_ms=round(memory_ms, 3), llm_ms=round(llm_ms, 3),
            total_ms=round(total_ms, 3), read_ms=round((t_read - t0) * 1000.0, 3),
            write_ms=round((t_end - t_write) * 1000.0, 3),
        )
        return TurnOutcome(body, memory_ms, llm_ms, total_ms)
