"""``harness compare``: did a change make the memory layer slower or less resilient, with statistical confidence.

``compare_samples(load_side(BASE), load_side(NEW))`` is the whole comparison;
``harness.compare.cli.compare`` is its command and ``harness.compare.render``
its Markdown, JSON and HTML. The names below load on first use: the CLI
imports this package for every command, and scipy alone takes most of a second.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.compare.engine import Comparison, MetricRow, Options, compare_samples
    from harness.compare.runs import CompareInputError, RunSample, discover, load_sample, load_side, load_sides

_HOME = {"Comparison": "engine", "MetricRow": "engine", "Options": "engine", "compare_samples": "engine",
         "CompareInputError": "runs", "RunSample": "runs", "discover": "runs", "load_sample": "runs",
         "load_side": "runs", "load_sides": "runs"}
__all__ = ["CompareInputError", "Comparison", "MetricRow", "Options", "RunSample", "compare_samples", "discover",
           "load_sample", "load_side", "load_sides"]


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
