"""Go ``encoding/json`` look-alike helpers for the Toxiproxy-compatible API.

Why this exists: clients and people compare our answers with the real Go
server's byte for byte (the transcripts in the shared reference), so the
encoder must write compact, HTML-escaped JSON with Go's float formatting, and
the decoder must reject bad bodies with Go's wording ("invalid character 'b'
looking for beginning of object key string", "cannot unmarshal string into Go
struct field ...").  Python's own messages would be equally correct but not
*compatible*.
"""

from __future__ import annotations

import json
import struct
from decimal import Decimal
from typing import Any


class GoJSONError(ValueError):
    """A body that Go's json.Decoder would refuse; ``str()`` is Go's message."""


# --------------------------------------------------------------------------- encoding


def float32_repr(value: float) -> str:
    """Format ``value`` the way Go marshals a float32 (shortest round-trip digits)."""
    f32 = struct.unpack("<f", struct.pack("<f", value))[0]
    if f32 == int(f32) and abs(f32) < 1e21:
        return str(int(f32))
    shortest = repr(f32)
    for prec in range(0, 9):
        cand = f"{f32:.{prec}e}"
        if struct.unpack("<f", struct.pack("<f", float(cand)))[0] == f32:
            shortest = cand
            break
    if abs(f32) < 1e-6 or abs(f32) >= 1e21:
        mant, exp = shortest.split("e") if "e" in shortest else (shortest, "0")
        sign = "-" if exp.startswith("-") else "+"
        return f"{mant}e{sign}{int(exp.lstrip('+-'))}"
    text = format(Decimal(shortest), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


class Float32:
    """Marker wrapper so :func:`dumps` writes a float with float32 precision."""

    __slots__ = ("value",)

    def __init__(self, value: float) -> None:
        self.value = value


def _encode(obj: Any, out: list[str]) -> None:
    if isinstance(obj, Float32):
        out.append(float32_repr(obj.value))
    elif isinstance(obj, dict):
        out.append("{")
        first = True
        for k, v in obj.items():
            if not first:
                out.append(",")
            first = False
            out.append(json.dumps(str(k), ensure_ascii=False))
            out.append(":")
            _encode(v, out)
        out.append("}")
    elif isinstance(obj, list | tuple):
        out.append("[")
        for i, v in enumerate(obj):
            if i:
                out.append(",")
            _encode(v, out)
        out.append("]")
    elif isinstance(obj, float):
        out.append(float32_repr(obj) if obj == int(obj) else repr(obj))
    else:
        out.append(json.dumps(obj, ensure_ascii=False))


def dumps(obj: Any) -> str:
    """Compact JSON with Go's HTML escaping of ``<``, ``>``, ``&`` and U+2028/9."""
    out: list[str] = []
    _encode(obj, out)
    text = "".join(out)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


# --------------------------------------------------------------------------- decoding


def _quote_char(c: str) -> str:
    if c == "'":
        return "'\\''"
    if c == "\\":
        return "'\\\\'"
    escapes = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
    if c in escapes:
        return f"'{escapes[c]}'"
    if ord(c) < 0x20:
        return f"'\\x{ord(c):02x}'"
    return f"'{c}'"


def _innermost_container(doc: str, pos: int) -> str:
    stack: list[str] = []
    in_str = False
    esc = False
    for ch in doc[:pos]:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            stack.append(ch)
        elif ch in "]}" and stack:
            stack.pop()
    return stack[-1] if stack else ""


def _go_syntax_message(doc: str, err: json.JSONDecodeError) -> str:
    pos = err.pos
    msg = err.msg
    if pos >= len(doc):
        return "unexpected EOF"
    c = doc[pos]
    if msg.startswith("Expecting property name"):
        return f"invalid character {_quote_char(c)} looking for beginning of object key string"
    if msg.startswith("Expecting value"):
        literals = {"n": "null", "t": "true", "f": "false"}
        if c in literals:
            lit = literals[c]
            for i, want in enumerate(lit):
                if pos + i >= len(doc):
                    return "unexpected EOF"
                if doc[pos + i] != want:
                    bad = _quote_char(doc[pos + i])
                    return f"invalid character {bad} in literal {lit} (expecting {_quote_char(want)})"
        return f"invalid character {_quote_char(c)} looking for beginning of value"
    if msg.startswith("Expecting ':'"):
        return f"invalid character {_quote_char(c)} after object key"
    if msg.startswith("Expecting ',' delimiter"):
        where = "object key:value pair" if _innermost_container(doc, pos) == "{" else "array element"
        return f"invalid character {_quote_char(c)} after {where}"
    if msg.startswith("Unterminated string"):
        return "unexpected EOF"
    if msg.startswith("Invalid control character"):
        return f"invalid character {_quote_char(c)} in string literal"
    return f"invalid character {_quote_char(c)} looking for beginning of value"


def _no_constants(name: str) -> Any:
    raise ValueError(name)


def decode(body: bytes) -> Any:
    """Decode the first JSON value of ``body`` like ``json.NewDecoder(r).Decode``.

    Trailing bytes after the first value are ignored, as Go's streaming decoder
    does.  Raises :class:`GoJSONError` carrying Go's message.
    """
    try:
        doc = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GoJSONError("invalid character in string literal") from exc
    stripped = doc.lstrip(" \t\r\n")
    if not stripped:
        raise GoJSONError("EOF")
    decoder = json.JSONDecoder(parse_constant=_no_constants)
    try:
        value, _end = decoder.raw_decode(stripped)
    except json.JSONDecodeError as exc:
        raise GoJSONError(_go_syntax_message(stripped, exc)) from exc
    except ValueError as exc:  # NaN / Infinity
        raise GoJSONError(
            f"invalid character {_quote_char(stripped[0] if stripped else ' ')} looking for beginning of value"
        ) from exc
    return value


def json_kind(value: Any, *, into_int: bool = False) -> str:
    """Go's name for a JSON value's kind in an UnmarshalTypeError message."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "number"
    if isinstance(value, float):
        if into_int:
            return f"number {value!r}"
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def field_type_error(value: Any, field: str, go_type: str) -> GoJSONError:
    """``json: cannot unmarshal X into Go struct field F of type T``."""
    into_int = go_type.startswith("int")
    return GoJSONError(
        f"json: cannot unmarshal {json_kind(value, into_int=into_int)} into Go struct field {field} of type {go_type}"
    )


def value_type_error(value: Any, go_type: str) -> GoJSONError:
    """``json: cannot unmarshal X into Go value of type T``."""
    return GoJSONError(f"json: cannot unmarshal {json_kind(value)} into Go value of type {go_type}")
