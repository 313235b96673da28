"""Duration and rate parsing used by every fault and phase flag."""

from __future__ import annotations

import pytest

from harness.chaos.faults import parse_rate
from harness.durations import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("2s", 2.0), ("1m", 60.0), ("1m30s", 90.0), ("250us", 0.00025), (" 3s ", 3.0), ("1.5s", 1.5)],
)
def test_parses_units(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "2", "abc", "2x", "1m 2", "-1s", "s", "1s2"])
def test_rejects_ambiguous_or_malformed(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


def test_format_round_trips() -> None:
    for text in ("500ms", "2s", "1m"):
        assert format_duration(parse_duration(text)) == text


@pytest.mark.parametrize(("text", "rate"), [("30%", 0.3), ("0.25", 0.25), ("100%", 1.0)])
def test_rates(text: str, rate: float) -> None:
    assert parse_rate(text) == pytest.approx(rate)


@pytest.mark.parametrize("text", ["0", "150%", "-0.1", "lots"])
def test_bad_rates(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rate(text)
