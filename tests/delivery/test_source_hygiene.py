"""Docstrings a reader can hold, and comments that do not go stale.

A docstring says why the code exists; measurements belong in
``benchmarks/results/`` and contracts in ``docs/contracts.md``. Numbered
references ("issue 12", "contracts section 4") stop meaning anything as soon
as the numbering changes, so the source names things instead.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
THIS = Path(__file__).resolve()
# The tests and benchmarks are read as often as the packages, and go stale the same way.
PACKAGES = ("harness", "reference_service", "scenarios", "tests", "benchmarks")
# Prose beside the code (benchmark write-ups); their raw outputs (JSON, text dumps) are data, not read.
DOCUMENTS = (("benchmarks", "*.md"),)
MAX_DOCSTRING_LINES = 15
STALE = re.compile(r"\bissue\s*#?\d+|\bcontracts?(\.md)?\s*(§|section\s*\d)|(?<!RFC )(?<!RFC \d{4} )§\s*\d"
                   r"|\bthe lead\b", re.IGNORECASE)


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _prose() -> list[Path]:
    """Every file whose words are read: the sources and the documents, but not this test, which must quote
    the patterns it forbids."""
    docs = (p for where, glob in DOCUMENTS for p in (ROOT / where).rglob(glob))
    return sorted(p for p in (*_sources(), *docs) if p.resolve() != THIS)


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_docstrings_are_short(path: Path) -> None:
    long = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node)
            if doc and doc.count("\n") + 1 > MAX_DOCSTRING_LINES:
                long.append(f"{getattr(node, 'name', '<module>')} ({doc.count(chr(10)) + 1} lines)")
    assert not long, f"docstrings over {MAX_DOCSTRING_LINES} lines: {', '.join(long)}"


def test_no_numbered_references_that_go_stale() -> None:
    hits = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
            for p in _prose()
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if STALE.search(line)]
    assert not hits, "\n".join(hits)


def test_the_pattern_catches_what_it_should() -> None:
    for bad in ("see issue 12", "per contracts §4", "docs/contracts.md section 4", "as the lead said"):
        assert STALE.search(bad), bad
    for fine in ("RFC 9112 §6.3", 'docs/contracts.md, "Stack state file"', "an issue with the socket"):
        assert not STALE.search(fine), fine
