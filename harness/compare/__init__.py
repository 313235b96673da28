"""``harness compare``: did a change make the memory layer slower or less resilient, with statistical confidence.

``compare_samples(load_side(BASE), load_side(NEW))`` is the whole comparison;
``harness.compare.cli.compare`` is its command and ``harness.compare.render``
its Markdown, JSON and HTML.
"""

from harness.compare.engine import Comparison, MetricRow, Options, compare_samples
from harness.compare.runs import CompareInputError, RunSample, discover, load_sample, load_side

__all__ = ["CompareInputError", "Comparison", "MetricRow", "Options", "RunSample", "compare_samples", "discover",
           "load_sample", "load_side"]
