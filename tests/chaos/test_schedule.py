"""Flap schedules: when the faults come and go inside the fault phase."""

from __future__ import annotations

import pytest

from harness.chaos.flags import ChaosFlags, UsageError, build_options
from harness.chaos.schedule import Flap, Window


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
    assert opts.faults[0].window == Window(flap=Flap(2.0, 3.0))
    assert opts.fault_label == "dynamo-latency-2s-flap-2s-3s"


def test_a_window_opens_and_closes_inside_the_phase_and_may_flap() -> None:
    assert Window().edges(100.0, 114.0) == [(100.0, True, "window")]
    assert Window(4.0, 6.0).edges(100.0, 114.0) == [(104.0, True, "window"), (110.0, False, "window")]
    assert Window(4.0).edges(100.0, 114.0) == [(104.0, True, "window")]  # the phase's end removes it
    assert Window(2.0, 8.0, Flap(2.0, 3.0)).edges(100.0, 114.0) == [
        (102.0, True, "window"), (104.0, False, "flap"), (107.0, True, "flap"), (109.0, False, "flap")]
    # a window that closes while the flap is off needs no edge of its own; one that closes while on does
    assert Window(0.0, 9.0, Flap(2.0, 3.0)).edges(100.0, 114.0)[-1] == (107.0, False, "flap")
    assert Window(0.0, 11.0, Flap(2.0, 3.0)).edges(100.0, 114.0)[-2:] == [(110.0, True, "flap"),
                                                                          (111.0, False, "window")]
    assert Window(4.0, 6.0).describe() == "from +4s for 6s" and Window().describe() == "constant"


@pytest.mark.parametrize(("flags", "message"), [
    ({"fault_at": "4s"}, "apply to the faults of this command"),
    ({"dynamo_latency": "2s", "fault_at": "14s"}, "must fall inside the 14 s fault phase"),
    ({"dynamo_latency": "2s", "fault_at": "4s", "fault_for": "11s"}, "ending inside the 14 s fault phase"),
    ({"dynamo_latency": "2s", "fault_for": "100ms"}, "at least 200ms"),
    ({"dynamo_latency": "2s", "fault_at": "soon"}, "--at/--for"),
    ({"dynamo_down": True, "stream": "upstream"}, "--stream applies to latency and blackhole faults"),
    ({"dynamo_latency": "2s", "stream": "sideways"}, "upstream or downstream"),
    ({"dynamo_blackhole": True, "stream": "sideways"}, "upstream or downstream"),
    ({"dynamo_throttle_code": "ThrottlingException"}, "give that too"),
    ({"dynamo_throttle": "20%", "dynamo_throttle_code": "SlowDown"}, "use one of"),
])
def test_bad_windows_and_fault_settings_are_usage_errors(flags: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        build_options(ChaosFlags(quick=True, **flags))  # type: ignore[arg-type]


def test_the_window_flags_set_every_fault_of_the_command() -> None:
    opts, _ = build_options(ChaosFlags(dynamo_latency="2s", redis_latency="300ms", redis_jitter="100ms",
                                       fault_at="4s", fault_for="6s", quick=True))
    assert [f.window for f in opts.faults] == [Window(4.0, 6.0), Window(4.0, 6.0)]
    assert opts.fault_label == "dynamo-latency-2s+redis-latency-300ms-at-4s-for-6s"
    assert opts.faults[1].describe() == "redis latency 300ms ± 100ms"


def test_a_ramp_moves_the_live_toxic_on_a_real_toxiproxy() -> None:
    import httpx

    from harness.chaos.faults import LatencyFault
    from harness.toxiclient import ToxiproxyClient
    from harness.toxiproxy import run_in_thread

    server = run_in_thread()
    try:
        httpx.post(f"{server.url}/proxies", json={"name": "dynamodb", "listen": "127.0.0.1:0",
                                                  "upstream": "127.0.0.1:9"}, timeout=5).raise_for_status()
        opts, _ = build_options(ChaosFlags(dynamo_latency="2s", ramp="0ms..2s", quick=True))
        fault = opts.faults[0]
        assert isinstance(fault, LatencyFault) and opts.fault_label == "dynamo-latency-2s-ramp-0ms-2s"
        with ToxiproxyClient(server.url) as client:
            fault.apply(client)
            seen = [client.toxics("dynamodb")[0]["attributes"]["latency"]]
            t = fault._updated_at
            # (progress, seconds since apply): a step waits >= 1 s and >= twice the current latency,
            # because each update lets the chunks the toxic holds through at once
            for progress, dt in ((0.25, 0.5), (0.25, 1.1), (0.5, 1.5), (0.5, 2.2), (1.0, 3.0), (1.0, 4.3), (1.2, 9)):
                fault.tick(client, progress, now=t + dt)
                seen.append(client.toxics("dynamodb")[0]["attributes"]["latency"])
            fault.rollback(client)
        assert seen == [0, 0, 500, 500, 1000, 1000, 2000, 2000]
        assert fault.effect()["ramp_from_ms"] == 0
    finally:
        server.stop()


@pytest.mark.parametrize(("flags", "message"), [
    (ChaosFlags(dynamo_down=True, ramp="0ms..2s"), "--ramp applies to latency faults"),
    (ChaosFlags(dynamo_latency="2s", ramp="2s"), "use FROM..TO"),
    (ChaosFlags(dynamo_latency="2s", ramp="0..2s"), "invalid --ramp"),
])
def test_bad_ramp_is_a_usage_error(flags: ChaosFlags, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        build_options(flags)


def test_steps_move_the_live_toxic_at_their_times_on_a_real_toxiproxy() -> None:
    """``--steps 1s=300ms,2s=900ms``: each value lands on the real proxy at its time, lateness recorded."""
    import time

    import httpx

    from harness.chaos.faults import LatencyFault
    from harness.toxiclient import ToxiproxyClient
    from harness.toxiproxy import run_in_thread

    server = run_in_thread()
    try:
        httpx.post(f"{server.url}/proxies", json={"name": "dynamodb", "listen": "127.0.0.1:0",
                                                  "upstream": "127.0.0.1:9"}, timeout=5).raise_for_status()
        opts, _ = build_options(ChaosFlags(dynamo_latency="50ms", steps="1s=300ms,2s=900ms", quick=True))
        fault = opts.faults[0]
        assert isinstance(fault, LatencyFault) and opts.fault_label == "dynamo-latency-50ms-steps-300ms-900ms"
        with ToxiproxyClient(server.url) as client:
            fault.apply(client)
            seen, changes = [], []
            t0 = time.monotonic()
            while time.monotonic() - t0 < 2.6:
                changed = fault.tick(client, 0.0)
                if changed:
                    changes.append(changed)
                seen.append(client.toxics("dynamodb")[0]["attributes"]["latency"])
                time.sleep(0.05)
            fault.rollback(client)
        assert [c["latency_ms"] for c in changes] == [300, 900]
        assert [c["scheduled_s"] for c in changes] == [1.0, 2.0]
        assert all(0 <= c["late_ms"] < 200 for c in changes), changes
        assert seen[0] == 50 and seen[-1] == 900 and 300 in seen
        assert fault.effect()["latency_ms"] == 900 and fault.effect()["steps"] == [[1.0, 300], [2.0, 900]]
    finally:
        server.stop()


@pytest.mark.parametrize(("flags", "message"), [
    (ChaosFlags(dynamo_down=True, steps="2s=1s"), "--steps applies to latency faults"),
    (ChaosFlags(dynamo_latency="2s", steps="2s"), "use TIME=LATENCY"),
    (ChaosFlags(dynamo_latency="2s", steps="5s=1s,3s=2s"), "times rising"),
    (ChaosFlags(dynamo_latency="2s", steps="99s=1s"), "inside the 14 s fault phase"),
    (ChaosFlags(dynamo_latency="2s", steps="2s=1s", ramp="0ms..2s"), "give one"),
])
def test_bad_steps_are_usage_errors(flags: ChaosFlags, message: str) -> None:
    flags.quick = True
    with pytest.raises(UsageError, match=message):
        build_options(flags)


def test_stream_sets_the_link_of_latency_and_blackhole_faults() -> None:
    opts, _ = build_options(ChaosFlags(dynamo_blackhole=True, redis_latency="300ms", stream="downstream", quick=True))
    blackhole, latency = opts.faults
    assert (blackhole.stream, latency.stream) == ("downstream", "downstream")  # type: ignore[attr-defined]
    assert blackhole.describe() == "dynamodb blackhole (downstream: requests land, answers never come)"
    assert opts.fault_label == "dynamo-blackhole-downstream+redis-latency-300ms-downstream"
    (default,) = build_options(ChaosFlags(dynamo_blackhole=True, quick=True))[0].faults
    assert default.stream == "upstream" and default.describe() == "dynamodb blackhole"  # type: ignore[attr-defined]
