"""Real headless Locust runs against a real loopback HTTP service (tests/loadgen/fakesvc.py).

These check the recording plugin's promises: one record per request, equal to
Locust's own final count, locally and with ``--processes 2``; durability under
``kill -9``; open-model arrivals that hold their rate and count missed starts;
clear errors for bad input.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.loadgen.conftest import SCENARIOS, fake_stats, locust_cmd, run_locust

pytestmark = pytest.mark.slow

CONTRACT_KEYS = {
    "kind", "id", "ts", "start", "intended_start", "latency_us", "status", "error", "name", "scenario",
    "user_class", "session_id", "turn", "script", "memory_mode", "level", "reason", "persisted", "verdict",
    "worker", "user_message_sha256", "reply_sha256", "referent_distance", "notice", "expected_session_id",
    "conversation",
}


def test_list_loads_every_scenario(tmp_path: Path) -> None:
    out = subprocess.run(
        [os.sys.executable, "-m", "locust", "-f", str(SCENARIOS) + "/", "--list"],  # type: ignore[attr-defined]
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    for name in ("ChatUser", "WebSocketRefreshUser", "OpenArrivalUser", "ZipfReturningUser"):
        assert name in out.stdout


def test_local_records_match_locust_count(tmp_path: Path, fake_service: str) -> None:
    run = run_locust(
        tmp_path, fake_service, "-u", "4", "-r", "4", "--run-time", "3s", "--think-time", "0",
        "ChatUser", "ZipfReturningUser",
    )
    assert run.stats, run.output[-3000:]
    assert run.locust_count > 100
    assert len(run.requests) == run.locust_count
    failures = sum(int(e["num_failures"]) for e in run.stats)
    assert sum(1 for r in run.requests if r["error"] is not None) == failures
    assert len({r["id"] for r in run.records}) == len(run.records)
    assert all(set(r) == CONTRACT_KEYS for r in run.requests)
    scenarios = Counter(r["scenario"] for r in run.requests)
    assert set(scenarios) == {"chat", "zipf"}
    # the fake service resolves ordinals, so the design dialogue resolves; pronouns it cannot do are 'wrong'
    verdicts = Counter(r["verdict"] for r in run.requests)
    assert verdicts["resolved"] > 0 and verdicts["wrong"] > 0
    wrong = [r for r in run.requests if r["verdict"] == "wrong"]
    assert all(r["error"] and "wrong answer" in r["error"] for r in wrong)  # fired as Locust failures
    for r in run.requests:
        assert r["start"] <= r["ts"] and r["intended_start"] == r["start"]


def test_records_carry_content_hashes_of_message_and_reply(tmp_path: Path, fake_service: str) -> None:
    """user_message_sha256 / reply_sha256 are SHA-256 of exactly the text sent and the text received."""
    import hashlib

    # harness.loadgen.corpus, not .conversation: the latter imports locust, whose gevent
    # monkey-patching must not happen inside the pytest process (it breaks ssl and asyncio).
    from harness.loadgen.corpus import load_corpus
    from tests.loadgen.fakesvc import GENERIC, LIST, TITLES

    def sha(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    replies = {sha(t) for t in (GENERIC, LIST, *(f"{x} is a fine choice." for x in TITLES))}
    scripts = {s.id: s for s in load_corpus()}
    run = run_locust(tmp_path, fake_service, "-u", "2", "-r", "2", "--run-time", "2s", "--think-time", "0",
                     "ChatUser")
    answered = [r for r in run.requests if r["status"] == 200]
    assert answered, run.output[-3000:]
    for r in answered:
        # a ChatUser follows one script per new session, so service turn n is script turn n
        sent = scripts[r["script"]].turns[r["turn"] - 1].message
        assert r["user_message_sha256"] == sha(sent), r
        assert r["reply_sha256"] in replies, r
    assert all(r["user_message_sha256"] is None and r["reply_sha256"] is None
               for r in run.requests if r["status"] != 200)


def test_zipf_traffic_is_skewed(tmp_path: Path, fake_service: str) -> None:
    run = run_locust(
        tmp_path, fake_service, "-u", "6", "-r", "6", "--run-time", "3s", "--think-time", "0",
        "--zipf-population", "200", "--zipf-s", "1.3", "ZipfReturningUser",
    )
    per_session = Counter(r["session_id"] for r in run.requests)
    assert len(per_session) > 10
    (_, top), *_ = per_session.most_common(1)
    assert top > 5 * (len(run.requests) / len(per_session))  # hot keys, not uniform


def test_distributed_records_complete_without_duplicates(tmp_path: Path, fake_service: str) -> None:
    run = run_locust(
        tmp_path, fake_service, "-u", "4", "-r", "4", "--run-time", "3s", "--processes", "2",
        "--think-time", "0", "ChatUser", timeout=90,
    )
    assert run.locust_count > 100, run.output[-3000:]
    assert len(run.requests) == run.locust_count
    assert len({r["id"] for r in run.records}) == len(run.records)
    assert len({r["worker"] for r in run.requests}) == 2  # both workers' records reached the master


def test_records_survive_kill_9(tmp_path: Path, fake_service: str) -> None:
    record_dir = tmp_path / "records"
    cmd = locust_cmd(fake_service, record_dir, "-u", "4", "-r", "4", "--run-time", "60s", "--think-time", "0",
                     "ChatUser")
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        path = record_dir / "records.jsonl"
        while time.monotonic() < deadline and (not path.exists() or path.stat().st_size < 200_000):
            time.sleep(0.1)
        # Records arrive in 50 ms batches and 200 KB can be the first few hundred ms of traffic:
        # let the run go on a little, so that well over 100 replies precede the last 100 ms.
        time.sleep(0.5)
        kill_at = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    raw = path.read_bytes()
    assert raw.endswith(b"\n")  # no torn last line
    lines = raw.decode().splitlines()
    for line in lines:
        json.loads(line)
    served_before = sum(1 for t in fake_stats(fake_service)["times"] if t <= kill_at - 0.1)
    assert served_before > 100
    assert len(lines) >= served_before


def test_open_model_holds_its_rate_and_counts_missed_starts(tmp_path: Path, fake_service: str) -> None:
    rate, seconds = 20.0, 4
    run = run_locust(
        tmp_path, fake_service, "-u", "1", "-r", "1", "--run-time", f"{seconds}s", "--think-time", "0.05",
        "--arrival-rate", str(rate), "OpenArrivalUser",
    )
    assert len(run.requests) == run.locust_count, run.output[-3000:]
    firsts = sorted({r["session_id"]: r["intended_start"] for r in run.requests if r["turn"] == 1}.values())
    assert len(firsts) > 30
    span = firsts[-1] - firsts[0]
    measured = (len(firsts) - 1) / span
    assert abs(measured - rate) / rate < 0.1, (measured, rate)
    gaps = [b - a for a, b in itertools.pairwise(firsts)]
    assert all(abs(g - 1 / rate) < 1e-6 for g in gaps)  # intended starts sit exactly on the schedule
    assert not [r for r in run.records if r["kind"] == "missed_start"]

    # a pool of 2 long sessions cannot absorb 20 starts/s: the shortfall is recorded, not hidden
    tmp2 = tmp_path / "small"
    tmp2.mkdir()
    run2 = run_locust(
        tmp2, fake_service, "-u", "1", "-r", "1", "--run-time", "3s", "--think-time", "1",
        "--arrival-rate", str(rate), "--open-pool-size", "2", "OpenArrivalUser",
    )
    missed = [r for r in run2.records if r["kind"] == "missed_start"]
    started = {r["session_id"] for r in run2.requests}
    assert len(missed) > 20
    assert all(r["scenario"] == "open" and r["intended_start"] for r in missed)
    assert len(missed) + len(started) >= 0.8 * rate * 2


def test_host_from_stack_state_file(tmp_path: Path, fake_service: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    state = {"version": 1, "components": {"service": {"url": fake_service}}}
    (home / "state.json").write_text(json.dumps(state))
    run = run_locust(
        tmp_path, None, "-u", "1", "-r", "1", "--run-time", "2s", "--think-time", "0", "ChatUser",
        env={"HARNESS_HOME": str(home)},
    )
    assert run.locust_count > 0 and len(run.requests) == run.locust_count, run.output[-2000:]


@pytest.mark.parametrize(
    "args,message",
    [
        ((), "no target"),
        (("--host", "http://127.0.0.1:9", "--arrival-rate", "0"), "--arrival-rate must be > 0"),
        (("--host", "http://127.0.0.1:9", "--zipf-population", "0"), "--zipf-population must be >= 1"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    run = run_locust(
        tmp_path, None, *args, "-u", "1", "--run-time", "1s", "ChatUser",
        env={"HARNESS_HOME": str(tmp_path / "nohome")}, timeout=60,
    )
    assert run.returncode == 2
    assert message in run.output
    assert "Traceback" not in run.output
