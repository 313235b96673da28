"""Conversation scripts and the reply checker.

The harness claims to measure whether *memory* works, so every simulated user
follows a scripted conversation whose later turns only make sense with earlier
ones ("What about the second one?"). :func:`judge` gives each reply a verdict
from the Load records section of docs/contracts.md: ``resolved``, ``degraded``
(an honest notice while ``memory_mode`` is not ``full``), ``wrong`` (the silent
failure the design must avoid), ``unchecked`` or ``error`` (no usable reply).

Expectations are data, not code, so scripts can be added without touching the
checker; ``list_item`` names a position in an earlier turn's numbered list, so
scripts never hard-code what the catalog recommends.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

Verdict = Literal["resolved", "degraded", "wrong", "unchecked", "error"]

STATELESS_NOTICES: tuple[str, ...] = (
    "I'm having a brief technical hiccup with my memory",
    "I've lost our conversation context",
)
"""The design's user-facing notices for stateless mode: a stateless reply must carry one."""

DEGRADED_NOTICES: tuple[str, ...] = (
    "I'm having a brief technical hiccup with my memory",
    "I've lost our conversation context",
    "I'm sorry, I don't understand what you mean by",
)
"""Honest degraded replies from the design; accepted only when memory_mode is not ``full``."""

_EXPECT_KEYS = frozenset({"contains", "contains_any", "absent", "list", "list_item"})


class CorpusError(ValueError):
    """A conversation script is malformed."""


@dataclass(frozen=True, slots=True)
class ScriptTurn:
    """One user message and, for reference turns, what a correct reply contains."""

    message: str
    expect: Mapping[str, Any] | None = None
    index: int = 0  # 0-based position in its script

    @property
    def checked(self) -> bool:
        return bool(self.expect)

    @property
    def referent_distance(self) -> int | None:
        """How many turns back the referent lies (None for turns without one).

        A ``list_item`` expectation names its anchor turn; a pronoun reference
        (``reference: true``) points at what the previous exchange was about,
        unless ``referent_turn`` names the turn.
        """
        if not self.expect:
            return None
        if "list_item" in self.expect:
            return self.index - int(self.expect["list_item"]["turn"]) + 1
        if self.expect.get("reference"):
            turn = self.expect.get("referent_turn")
            return self.index - int(turn) + 1 if isinstance(turn, int) else 1
        return None

    @property
    def needs_memory(self) -> bool:
        """True when the expectation refers to an earlier reply."""
        return bool(self.expect and "list_item" in self.expect) or bool(
            self.expect and self.expect.get("reference")
        )


@dataclass(frozen=True, slots=True)
class Script:
    """A whole conversation (3 to 12 turns)."""

    id: str
    description: str
    turns: tuple[ScriptTurn, ...]
    tags: tuple[str, ...] = field(default_factory=tuple)

    def reference_turns(self) -> list[int]:
        """0-based indexes of turns that need earlier context."""
        return [i for i, t in enumerate(self.turns) if t.needs_memory]


_ABBREVIATIONS = frozenset({"dr", "mr", "mrs", "ms", "st", "vol", "no", "vs"})
_PERIOD_RE = re.compile(r"\.(?=\s|$)")


def _item_end(reply: str, pos: int) -> int:
    """End of the last list item: the first sentence-ending period not after an abbreviation."""
    for match in _PERIOD_RE.finditer(reply, pos):
        word = reply[pos : match.start()].rsplit(None, 1)[-1] if reply[pos : match.start()].strip() else ""
        if word.lower() not in _ABBREVIATIONS:
            return match.start()
    return len(reply)


def numbered_list(reply: str) -> list[str]:
    """Titles of the numbered list ``(1) A, (2) B, (3) C.`` in ``reply`` (empty if none)."""
    first = re.search(r"\(1\)\s+", reply)
    if first is None:
        return []
    titles: list[str] = []
    pos, n = first.end(), 1
    end = _item_end(reply, pos)
    while True:
        nxt = re.compile(rf",?\s+(?:and\s+)?\({n + 1}\)\s+").search(reply, pos)
        if nxt is None or nxt.start() > end:
            titles.append(reply[pos:end].strip())
            return [t for t in titles if t]
        titles.append(reply[pos : nxt.start()].strip())
        pos, n = nxt.end(), n + 1
        end = _item_end(reply, pos)


def _validate_expect(script_id: str, index: int, expect: Any) -> Mapping[str, Any]:
    where = f"script {script_id!r} turn {index + 1}"
    if not isinstance(expect, Mapping):
        raise CorpusError(f"{where}: 'expect' must be an object")
    unknown = set(expect) - _EXPECT_KEYS - {"reference", "referent_turn", "note"}
    if unknown:
        raise CorpusError(f"{where}: unknown expectation(s) {sorted(unknown)}")
    for key in ("contains", "contains_any", "absent"):
        if key in expect and (
            not isinstance(expect[key], list) or not all(isinstance(s, str) and s for s in expect[key])
        ):
            raise CorpusError(f"{where}: {key!r} must be a list of non-empty strings")
    if "list" in expect and not isinstance(expect["list"].get("min_items"), int):
        raise CorpusError(f"{where}: 'list' needs an integer min_items")
    if "list_item" in expect:
        item = expect["list_item"]
        turn, pos = item.get("turn"), item.get("position")
        if not isinstance(turn, int) or not isinstance(pos, int) or pos < 1:
            raise CorpusError(f"{where}: 'list_item' needs integer turn and position >= 1")
        if not 1 <= turn <= index:
            raise CorpusError(f"{where}: 'list_item' must refer to an earlier turn, got {turn}")
    ref_turn = expect.get("referent_turn")
    if ref_turn is not None and (not isinstance(ref_turn, int) or not 1 <= ref_turn <= index):
        raise CorpusError(f"{where}: 'referent_turn' must be an earlier turn number")
    return expect


def parse_script(raw: Mapping[str, Any]) -> Script:
    """Validate one script object from the corpus."""
    script_id = raw.get("id")
    if not isinstance(script_id, str) or not script_id:
        raise CorpusError("every script needs a non-empty string 'id'")
    turns_raw = raw.get("turns")
    if not isinstance(turns_raw, list) or not 3 <= len(turns_raw) <= 12:
        raise CorpusError(f"script {script_id!r}: 'turns' must be a list of 3 to 12 turns")
    turns: list[ScriptTurn] = []
    for i, t in enumerate(turns_raw):
        if isinstance(t, str):
            t = {"message": t}
        message = t.get("message") if isinstance(t, Mapping) else None
        if not isinstance(message, str) or not 1 <= len(message) <= 4000:
            raise CorpusError(f"script {script_id!r} turn {i + 1}: 'message' must be 1..4000 chars")
        expect = t.get("expect")
        turns.append(ScriptTurn(message, _validate_expect(script_id, i, expect) if expect else None, i))
    return Script(
        id=script_id,
        description=str(raw.get("description", "")),
        turns=tuple(turns),
        tags=tuple(str(x) for x in raw.get("tags", [])),
    )


def load_corpus(path: str | Path | None = None) -> list[Script]:
    """Load every script of a JSON corpus (default: the one shipped in this package)."""
    if path is None:
        text = resources.files("harness.loadgen").joinpath("corpus/scripts.json").read_text("utf-8")
        origin = "harness/loadgen/corpus/scripts.json"
    else:
        text = Path(path).read_text("utf-8")
        origin = str(path)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CorpusError(f"{origin}: not valid JSON: {exc}") from exc
    raw_scripts = data.get("scripts") if isinstance(data, Mapping) else data
    if not isinstance(raw_scripts, list) or not raw_scripts:
        raise CorpusError(f"{origin}: expected a non-empty list of scripts")
    scripts = [parse_script(s) for s in raw_scripts]
    ids = [s.id for s in scripts]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise CorpusError(f"{origin}: duplicate script ids {dupes}")
    return scripts


@dataclass(frozen=True, slots=True)
class Judgement:
    """The checker's answer for one reply."""

    verdict: Verdict
    detail: str | None = None


def _has(reply_lower: str, needle: str) -> bool:
    return needle.lower() in reply_lower


def has_stateless_notice(reply: str) -> bool:
    low = reply.lower()
    return any(n.lower() in low for n in STATELESS_NOTICES)


def is_degraded_notice(reply: str) -> bool:
    low = reply.lower()
    return any(n.lower() in low for n in DEGRADED_NOTICES)


def judge(
    turn: ScriptTurn,
    payload: Mapping[str, Any] | None,
    earlier_replies: Sequence[str | None],
) -> Judgement:
    """Judge one reply.

    ``payload`` is the decoded JSON body (None when there was no usable reply);
    ``earlier_replies[i]`` is the reply text to turn i+1 of the same script
    (None when that turn failed), used by dynamic expectations.
    """
    if payload is None or not isinstance(payload.get("response"), str):
        return Judgement("error", "no usable reply")
    reply: str = payload["response"]
    meta = payload.get("debug_metadata")
    memory_mode = meta.get("memory_mode") if isinstance(meta, Mapping) else None
    if not turn.expect:
        return Judgement("unchecked")
    expect = turn.expect
    low = reply.lower()

    needed: list[str] = list(expect.get("contains", []))
    if "list_item" in expect:
        ref = expect["list_item"]
        anchor = earlier_replies[ref["turn"] - 1] if ref["turn"] - 1 < len(earlier_replies) else None
        titles = numbered_list(anchor) if anchor else []
        if len(titles) < ref["position"]:
            # Nothing to resolve against (the anchor turn failed or was degraded): honest
            # notices are fine; anything else cannot be judged.
            if is_degraded_notice(reply):
                return Judgement("degraded" if memory_mode != "full" else "unchecked", "anchor missing")
            return Judgement("unchecked", f"turn {ref['turn']} reply has no item {ref['position']}")
        needed.append(titles[ref["position"] - 1])

    failures: list[str] = [f"missing {s!r}" for s in needed if not _has(low, s)]
    any_of = expect.get("contains_any")
    if any_of and not any(_has(low, s) for s in any_of):
        failures.append(f"none of {any_of!r}")
    failures += [f"unexpected {s!r}" for s in expect.get("absent", []) if _has(low, s)]
    if "list" in expect:
        count = len(numbered_list(reply))
        if count < expect["list"]["min_items"]:
            failures.append(f"numbered list has {count} items, want >= {expect['list']['min_items']}")
    if not failures:
        return Judgement("resolved")
    if memory_mode not in (None, "full") and is_degraded_notice(reply):
        return Judgement("degraded", f"memory_mode={memory_mode}")
    return Judgement("wrong", "; ".join(failures) + f" (memory_mode={memory_mode}) in reply {reply[:160]!r}")


__all__ = [
    "DEGRADED_NOTICES",
    "STATELESS_NOTICES",
    "CorpusError",
    "Judgement",
    "Script",
    "ScriptTurn",
    "Verdict",
    "has_stateless_notice",
    "is_degraded_notice",
    "judge",
    "load_corpus",
    "numbered_list",
    "parse_script",
]
