"""Flap schedules: when the faults come and go inside the fault phase."""

from __future__ import annotations

import pytest

from harness.chaos.flags import ChaosFlags, UsageError, build_options
from harness.chaos.schedule import Flap


def test_edges_alternate_and_stop_before_the_phase_ends() -> None:
    assert Flap(2.0, 3.0).edges(100.0, 114.0) == [(102.0, False), (105.0, True), (107.0, False), (110.0, True),
                                                 (112.0, False)]
    assert Flap(2.0, 3.0).edges(0.0, 2.0) == []  # on for the whole (short) phase


@pytest.mark.parametrize(("text", "message"), [
    ("2s", "use ON/OFF"), ("2s/", "invalid --flap"), ("x/3s", "invalid --flap"), ("100ms/3s", "at least 200ms"),
])
def test_bad_flap_is_a_usage_error(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        build_options(ChaosFlags(dynamo_latency="2s", flap=text, quick=True))


def test_flap_needs_a_fault_and_names_the_run() -> None:
    with pytest.raises(UsageError, match="at least one fault"):
        build_options(ChaosFlags(flap="2s/3s", quick=True))
    opts, _ = build_options(ChaosFlags(dynamo_latency="2s", flap="2s/3s", quick=True))
    assert opts.flap == Flap(2.0, 3.0) and opts.fault_label == "dynamo-latency-2s-flap-2s-3s"
