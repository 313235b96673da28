"""`harness project` (scale projection): scenarios whose answers are computed by hand, run on the real code.

Every expected number below is derived in the comment next to it from the
documented DynamoDB rules (4 KB read blocks per Query sum, 1 KB write blocks,
3,000 RCU / 1,000 WCU / 10 GB per partition, on-demand "twice the previous
peak within 30 minutes", 300 s burst bank, 24 h TTL + 48 h deletion lag) and
from the parameters the test chooses. Models are ``synthetic_model`` (fixed,
degenerate distributions) so the arithmetic is exact; only the random arrival
times add noise, and each assertion that depends on them states the bound it
allows and why it holds.

Shorthand in the comments: a day is 86,400 s; "peak-to-mean 3" means the
arrival rate at 14:00 is 3x the day's mean rate.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer

# plain `pytest` does not put the repo root on sys.path; `tests.analyzers.synth` needs it
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from harness.analyzers.rundata import load_run
from harness.project import capacity as cap
from harness.project.cli import parse_count
from harness.project.gate import ScaleSlo, evaluate
from harness.project.model import Degradation, Fitted, RunModel, Skew, fit_model, fit_zipf, synthetic_model
from harness.project.prices import load_prices
from harness.project.projection import AlarmPolicy, Projection, project
from harness.project.render import markdown
from harness.project.simulate import ProjectionParams
from tests.analyzers.synth import SynthConfig, edit_run_json, generate

ROOT = Path(__file__).resolve().parents[2]
PRICES = load_prices()


def run(model: RunModel, sessions_per_day: int, **kw: Any) -> Projection:
    kw.setdefault("days", 1)
    return project(model, ProjectionParams(sessions_per_day, **kw), PRICES, AlarmPolicy())


# --------------------------------------------------------------------------- 1. uniform keys, under the limits


@pytest.mark.parametrize(
    ("size", "rcu", "wcu", "expected"),
    [
        (25e9, 1500.0, 1200.0, 3),  # size ceil(25/10) = 3; throughput ceil(0.5 + 1.2) = 2 -> 3
        (5e9, 4500.0, 2500.0, 4),  # size ceil(0.5) = 1; throughput ceil(1.5 + 2.5) = 4 -> 4
        (1e9, 1500.0, 500.0, 1),  # linear combination: 1500/3000 + 500/1000 = 1.0 exactly -> 1
        (1e9, 1503.0, 500.0, 2),  # 0.501 + 0.5 = 1.001 -> 2
        (0.0, 0.0, 0.0, 1),  # an empty, idle table still has one partition
    ],
)
def test_partitions_for_is_max_of_size_and_linear_throughput(size: float, rcu: float, wcu: float,
                                                             expected: int) -> None:
    assert int(cap.partitions_for(size, rcu, wcu)) == expected


@pytest.mark.parametrize(("lag_h", "expected_by_size"), [(48.0, 8), (0.0, 3)])
def test_uniform_keys_size_bound_no_throttling(lag_h: float, expected_by_size: int) -> None:
    # 500,000 sessions/day x 6 turns = 3,000,000 turns/day, one put of 8,000 B each:
    #   bytes written a day = 3e6 x 8,000 = 24e9 B.
    # The table holds every item for TTL 24 h + deletion lag (48 h documented, or 0 here as a contrast);
    # the simulated day repeats, so the steady size is exact:
    #   lag 48 h: 3 days x 24e9 = 72e9 B -> ceil(72e9 / 10e9) = ceil(7.2) = 8 partitions for size
    #   lag  0 h: 1 day  x 24e9 = 24e9 B -> ceil(2.4) = 3 partitions for size
    # Throughput: a put is ceil(8000/1024) = ceil(7.81) = 8 WCU; half the turns Query 10 items x 8,000 B =
    # 80,000 B -> ceil(80000/4096) = ceil(19.53) = 20 blocks -> 10 RCU eventually consistent.
    # Mean rate 3e6/86,400 = 34.7 turns/s, x3 at the diurnal peak = 104 turns/s
    #   -> ~833 WCU/s + ~521 RCU/s -> 0.83 + 0.17 = 1.0 partition's worth; one-second noise pushes the
    #   busiest second to ~140 turns/s, i.e. 2 partitions. Even a turn that both writes and reads costs
    #   8/1000 + 10/3000 = 0.01133 of a partition, so 3 partitions would take > 264 turns in one second
    #   (Poisson mean 104: impossible). So by-throughput is 1..3, and the size bound decides.
    # No throttling: the table peaks near 140 x 8 = 1,120 WCU/s < 4,000 WRU a new on-demand table serves
    # at once, and a partition sees ~1/3 or 1/8 of that, well under 1,000 WCU.
    model = synthetic_model(turns=6, gap_s=30.0, item_bytes=8000.0, reads_per_turn=0.5, query_items=10)
    assert float(cap.write_units(8000.0)) == 8.0
    assert model.query_rcu.tolist() == [10.0]
    p = run(model, 500_000, ttl_deletion_lag_s=lag_h * 3600.0)
    assert p.partitions["table_gb_max"] == pytest.approx(24.0 * (24.0 + lag_h) / 24.0, rel=1e-3)
    assert p.partitions["by_size_max"] == expected_by_size
    assert 1 <= p.partitions["by_throughput_max"] <= 3
    assert p.partitions["final"] == max(p.partitions["by_size_max"], p.partitions["by_throughput_max"])
    assert p.partitions["final"] == expected_by_size
    assert p.partitions["heat_splits"] == 0
    assert p.summary["throttled_requests"] == 0
    assert p.throttling["table_rcu"] == 0 and p.throttling["table_wcu"] == 0
    assert p.summary["turns_per_day"] == 3_000_000
    assert p.cost["request_units_per_day"]["write"] == 3_000_000 * 8
    assert all(g["passed"] for g in evaluate(p, ScaleSlo()))


def test_uniform_keys_throughput_bound_no_throttling() -> None:
    # Flat traffic (peak-to-mean 1) in 1-minute buckets so the rate is steady:
    # 500,000 sessions/day x 6 turns = 3e6 turns/day = 34.72 turns/s.
    # Each turn makes 2 Queries of 1,600 items x 256 B = 409,600 B = exactly 100 x 4 KB blocks
    #   -> 100 x 0.5 = 50 RCU each (eventually consistent) -> 100 RCU per turn; one 256 B put = 1 WCU.
    # Per second: 3,472 RCU + 34.7 WCU -> 3472/3000 + 34.7/1000 = 1.157 + 0.035 = 1.19 -> ceil = 2.
    # A minute holds 2,083 turns; they come in sessions (6 turns 30 s apart, ~2 of them in one minute), so the
    # sd is ~sqrt(2) x Poisson's 46, about 3 %. Falling to 1 partition needs -16 % (5 sd), rising to 3 needs
    # +68 %: every minute needs exactly 2 partitions.
    # Size: 3e6 x 256 B x 3 days (TTL + lag) = 2.304e9 B -> ceil(0.23) = 1. Partitions = max(1, 2) = 2.
    # 3,472 RCU/s < 12,000 RRU a new table serves at once; each half of the hash space carries ~0.6 of a
    # partition, so no heat split and no throttling.
    model = synthetic_model(turns=6, gap_s=30.0, item_bytes=256.0, reads_per_turn=2.0, query_items=1600)
    assert model.query_rcu.tolist() == [50.0]
    p = run(model, 500_000, peak_to_mean=1.0, fine_s=60.0, coarse_s=60.0)
    assert p.partitions["by_size_max"] == 1
    assert p.partitions["table_gb_max"] == pytest.approx(2.304, abs=0.01)
    assert p.partitions["by_throughput_max"] == 2
    assert min(p.series["partitions_throughput"]) == 2
    assert p.partitions["final"] == max(1, 2) == 2
    assert p.partitions["heat_splits"] == 0
    assert max(p.heat["utilisation"]) < 1.0
    assert p.summary["throttled_requests"] == 0
    # exact totals: 3e6 turns x 100 RCU, 3e6 x 1 WCU
    assert p.cost["request_units_per_day"] == {"read": 300_000_000, "write": 3_000_000}


# --------------------------------------------------------------------------- 2. Zipf population at 10M/day

# The zipf scenario's shape: single-turn visits of returning customers, Zipf s = 1.2 (the loadgen default);
# keys_per_session = 1.0 is what fit_model measures on a zipf run, so the population scales with traffic:
#   population = max(1,000, 1.0 x 10,000,000) = 10,000,000 keys.
# Share of rank 1 = 1 / H(10^7, 1.2), H(N, s) = zeta(s) - N^(1-s)/(s-1) (+ a negligible term)
#   = 5.59158 - (10^7)^-0.2 / 0.2 = 5.59158 - 0.039811/0.2 = 5.59158 - 0.19905 = 5.39253 -> share 0.18544.
# Visits at the diurnal peak: 10^7 / 86,400 x 3 = 347.22/s; the hottest key gets 0.18544 x 347.22 = 64.39/s.
# Each visit puts a 20,000 B item: ceil(20000/1024) = ceil(19.53) = 20 WCU
#   -> 64.39 x 20 = 1,288 WCU/s at the peak's mean rate: 1.29 x the 1,000 WCU a partition can ever serve,
#   even with the key alone on its partition (adaptive capacity's best case). The burst bank holds 300 s
#   of capacity; the mean rate stays above 1,000 WCU while exp(k (cos phi - 1)) >= 1000/1288, with k = 1.7606
#   (1/i0e(k) = 3): cos phi >= 1 + ln(0.7764)/1.7606 = 0.8562 -> phi <= 0.5428 rad -> 2 x 0.5428/(2 pi) x 24 h
#   = 4.15 h over the limit, far more than 300 s of bank: throttled.
# With 1 KB items (1 WCU) the same key would need 64 WCU/s: the > 1,000 WCU claim needs the write size too.
ZIPF_SKEW = Skew("zipf", s=1.2, population=1000, keys_per_session=1.0)
TEN_M = 10_000_000


def _zipf_model(item_bytes: float = 20_000.0) -> RunModel:
    return synthetic_model(turns=1, gap_s=30.0, item_bytes=item_bytes, reads_per_turn=0.0, skew=ZIPF_SKEW)


@pytest.fixture(scope="module")
def zipf_10m() -> Projection:
    return run(_zipf_model(), TEN_M)


def test_zipf_hottest_key_at_10m_exceeds_1000_wcu_and_is_throttled(zipf_10m: Projection) -> None:
    p = zipf_10m
    hk = p.hot_key
    assert hk["population"] == TEN_M
    assert hk["rank"] == 1
    assert hk["share"] == pytest.approx(0.18544, rel=1e-4)
    # the busiest second's WCU: at least the peak's mean (1,288) minus noise, well above 1,000;
    # the one-second Poisson max over the peak hour (mean 64.4 visits/s) stays under 2 x 1,288
    assert 1000.0 < hk["peak_wcu_per_s"] < 2 * 1288.0
    assert hk["peak_utilisation"] > 1.0
    # ~4.15 h of the mean rate above the limit (1-s noise in the peak hour and 1-min buckets elsewhere
    # move it by minutes, not hours)
    assert 3.5 * 3600 < hk["seconds_over_limit"] < 4.8 * 3600
    assert hk["throttled"] is True
    assert hk["keys_over_limit"] >= 1
    assert p.throttling["hot_key_wcu"] > 0
    assert p.summary["throttled_requests"] > 0
    # table level is not what throttles: 347 x 20 = 6,944 WCU/s at the peak, under the 40,000 WRU quota,
    # and the diurnal curve grows at most exp(1.76 x 2 pi x 1800/86400) = 1.26x in 30 min, never 2x
    assert p.throttling["table_wcu"] == 0
    checks = {g["name"]: g for g in evaluate(p, ScaleSlo())}
    assert checks["scale.throttling"]["passed"] is False
    assert "THROTTLED" in markdown(p)


def test_zipf_hottest_key_throttled_whatever_the_key_format(zipf_10m: Projection,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # UUIDv4 keys hash uniformly (splitmix64 stands in); "sess_<n>" keys with an order-preserving layout put
    # consecutive customers side by side (the hash is replaced by key / population). Neither changes the
    # hottest key's own load: it is one key, so it is throttled identically.
    def sequential(x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) / TEN_M) % 1.0

    monkeypatch.setattr(cap, "hash_unit", sequential)
    seq = run(_zipf_model(), TEN_M)
    assert seq.hot_key == zipf_10m.hot_key
    assert seq.hot_key["throttled"] is True
    assert seq.throttling["hot_key_wcu"] == zipf_10m.throttling["hot_key_wcu"] > 0


def test_zipf_same_population_at_1m_is_not_throttled() -> None:
    # Scale decides: at 1M visits/day the population is 10^6 keys, H(10^6, 1.2) = 5.59158 - 10^-1.2/0.2
    # = 5.59158 - 0.31548 = 5.27610 -> share 0.18953; peak visits 10^6/86,400 x 3 = 34.72/s -> 6.58/s on the
    # hottest key x 20 WCU = 132 WCU/s, and even a 1-s Poisson max (~18 visits) is ~360 WCU: not throttled.
    p = run(_zipf_model(), 1_000_000)
    hk = p.hot_key
    assert hk["share"] == pytest.approx(0.18953, rel=1e-4)
    assert hk["peak_wcu_per_s"] < 1000.0
    assert hk["throttled"] is False
    assert p.throttling["hot_key_wcu"] == 0
    assert p.summary["throttled_requests"] == 0


# --------------------------------------------------------------------------- 3. capacity-unit rounding

ITEM_408_KB = 4.08 * 1024  # 4,177.92 B


def test_query_rounds_the_sum_not_each_item() -> None:
    total = 10 * ITEM_408_KB  # 41,779.2 B = 40.8 KB
    # 40.8 KB / 4 KB = 10.2 -> 11 blocks: 11 RCU strongly consistent
    assert float(cap.query_read_units(total, consistent=True)) == 11.0
    # eventually consistent: half, 5.5
    assert float(cap.query_read_units(total)) == 5.5
    # per-item rounding (the mistake): ceil(4.08/4) = 2 each -> 20
    per_item = cap.query_read_units(np.full(10, ITEM_408_KB), consistent=True)
    assert float(per_item.sum()) == 20.0
    # an empty Query still costs a block: 1 strongly consistent, 0.5 eventually
    assert float(cap.query_read_units(0.0, consistent=True)) == 1.0
    assert float(cap.query_read_units(0.0)) == 0.5
    # exactly 8 KB -> 2 blocks, one byte more -> 3
    assert cap.query_read_units(np.array([8192.0, 8193.0]), consistent=True).tolist() == [2.0, 3.0]


def test_writes_round_up_to_1kb() -> None:
    # 0 B and 1 B still cost 1; 1,024 B = 1; 1,025 B = 2; 4.08 KB = ceil(4.08) = 5; 400 KB (the item limit) = 400
    sizes = np.array([0.0, 1.0, 1024.0, 1025.0, ITEM_408_KB, 400 * 1024.0])
    assert cap.write_units(sizes).tolist() == [1.0, 1.0, 1.0, 2.0, 5.0, 400.0]


@pytest.mark.parametrize(("consistent", "rru_per_query"), [(True, 11), (False, 5.5)])
def test_query_rounding_end_to_end_in_the_projection(consistent: bool, rru_per_query: float) -> None:
    # 200,000 sessions/day x 6 turns = 1,200,000 turns, each one Query of 10 items of 4.08 KB and one put of
    # 4.08 KB. Reads: 1.2e6 x 11 = 13,200,000 RRU (consistent) or 1.2e6 x 5.5 = 6,600,000 (eventual).
    # Writes: 1.2e6 x 5 WRU = 6,000,000. Prices (2024-11-01, us-east-1): 0.125 USD / M RRU, 0.625 USD / M WRU:
    #   consistent reads 13.2 x 0.125 = 1.65 USD/day; writes 6.0 x 0.625 = 3.75 USD/day.
    # Storage: 1.2e6 x 4,177.92 B x 3 days = 15.04 GB < 25 GB free tier -> 0.
    model = synthetic_model(turns=6, gap_s=30.0, item_bytes=ITEM_408_KB, reads_per_turn=1.0, query_items=10)
    assert model.query_rcu.tolist() == [5.5]  # the model keeps eventual units; the projection doubles them
    p = run(model, 200_000, consistent_reads=consistent)
    assert p.cost["request_units_per_day"] == {"read": round(1_200_000 * rru_per_query), "write": 6_000_000}
    assert p.cost["per_day"]["writes"] == 3.75
    assert p.cost["per_day"]["storage"] == 0.0
    assert p.cost["storage_gb_mean"] == pytest.approx(15.04, abs=0.01)
    if consistent:
        assert p.cost["per_day"]["reads"] == 1.65
        assert p.cost["per_30_days"] == pytest.approx(30 * (1.65 + 3.75))


# --------------------------------------------------------------------------- 4. on-demand previous peak


def _jump(to: float, before: float = 10_000.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One hour at ``before`` RRU/s then one hour at ``to``, in 1-s buckets."""
    t = np.arange(7200, dtype=float)
    demand = np.where(t < 3600, before, to)
    return demand, t, np.ones_like(t)


def test_on_demand_jump_to_3x_previous_peak_within_30_min_is_throttled() -> None:
    # Previous peak 10k: the table serves up to 2 x 10k = 20k at once. At 3,600 s the demand jumps to 30k:
    # 30k - 20k = 10k RRU/s throttled. The model's previous peak at t is the highest rate served in buckets
    # that ended by t - 1,800 s, so the first 20k served (bucket 3,600-3,601) counts from t = 5,401 on;
    # the buckets starting at 3,600 ... 5,400 (1,801 of them) are throttled, then 2 x 20k = 40k >= 30k.
    demand, t, dt = _jump(30_000.0)
    allowed, thr = cap.on_demand_allowance(demand, t, dt, 10_000.0, cap.TABLE_QUOTA_RRU)
    assert thr[:3600].sum() == 0 and allowed[0] == 20_000.0
    assert thr[3600] == 10_000.0
    assert (thr[3600:5401] == 10_000.0).all()
    assert thr[5401:].sum() == 0 and allowed[5401] == 40_000.0
    assert thr.sum() == 1801 * 10_000.0


def test_on_demand_jump_to_exactly_2x_is_not_throttled() -> None:
    # The documented rule throttles traffic that *exceeds* twice the previous peak: 20k = 2 x 10k is served.
    demand, t, dt = _jump(20_000.0)
    _, thr = cap.on_demand_allowance(demand, t, dt, 10_000.0, cap.TABLE_QUOTA_RRU)
    assert thr.sum() == 0
    # one unit above 2x is not
    demand, t, dt = _jump(20_001.0)
    _, thr = cap.on_demand_allowance(demand, t, dt, 10_000.0, cap.TABLE_QUOTA_RRU)
    assert thr[3600] == 1.0


def test_on_demand_never_serves_above_the_table_quota_and_new_table_limits() -> None:
    # after an hour at 30k the allowance is 2 x 30k = 60k, but the default quota is 40,000 RRU: 50k -> 10k over
    demand, t, dt = _jump(50_000.0, before=30_000.0)
    allowed, thr = cap.on_demand_allowance(demand, t, dt, 30_000.0, cap.TABLE_QUOTA_RRU)
    assert allowed.max() == 40_000.0
    assert thr[-1] == 10_000.0
    # a new table: "previous peak" of half what it serves at once -> 12,000 RRU and 4,000 WRU
    params = ProjectionParams(1)
    assert 2 * params.previous_peak_rru == 12_000.0 and 2 * params.previous_peak_wru == 4_000.0
    assert cap.TABLE_QUOTA_RRU == cap.TABLE_QUOTA_WRU == 40_000.0


def test_on_demand_jump_in_the_projection() -> None:
    # 337,500 sessions/day x 6 turns = 2,025,000 turns/day = 23.4375 turns/s, flat (peak-to-mean 1), 1-min
    # buckets. Each turn reads ten 1 MB Query pages (1,048,576 B = 256 blocks -> 128 RRU each, eventual):
    #   23.4375 x 1,280 = 30,000 RRU/s, on a table whose previous peak was 10,000.
    # From t = 0 the allowance is 20,000: 10,000 RRU/s throttled. A 1-minute bucket at t sees only buckets
    # that ended by t - 1,800 s, so buckets 0 ... 1,800 s (31 of them, 1,860 s) are throttled; from 1,860 s the
    # previous peak is the 20,000 served, the allowance 40,000 (= the quota), and 30,000 is served.
    # Throttled RRU = 31 x 60 s x 10,000 = 18,600,000. Noise: the 31 minutes hold ~43,600 turns in ~7,300
    # sessions of 6, so their demand (55.8M RRU) has sd ~sqrt(7300) x 6 / 43,600 = 1.2 %, ~0.65M, all of it
    # landing on the throttled part: +-12 % (2.2M, 3.4 sd) is allowed. A minute's demand has sd ~4 %, so the
    # busiest (~+13 %, 34k) stays under 40k and the quietest above 20k: exactly 1,860 s throttled.
    model = synthetic_model(turns=6, gap_s=30.0, item_bytes=256.0, reads_per_turn=10.0, query_items=4096)
    assert model.query_rcu.tolist() == [128.0]
    p = run(model, 337_500, peak_to_mean=1.0, fine_s=60.0, coarse_s=60.0, previous_peak_rru=10_000.0)
    assert p.throttling["seconds_throttled"] == 1860.0
    assert p.throttling["table_rcu"] == pytest.approx(18_600_000, rel=0.12)
    assert p.throttling["table_wcu"] == 0  # 23 WCU/s
    assert 30_000 < p.summary["peak_rcu_per_s"] < 40_000  # the busiest minute, under the quota
    assert p.summary["throttled_requests"] > 0
    assert evaluate(p, ScaleSlo())[0]["passed"] is False


# --------------------------------------------------------------------------- burst bank, provisioned mode


def test_burst_bank_holds_300_s_of_unused_capacity() -> None:
    # Bank starts full: 300 s x limit 1. Demand 2x the limit for 400 s: each second needs 1 s from the bank,
    # which lasts 300 s; the last 100 s are half throttled ((2 - 1) / 2). Then 600 s at 0.5 refill it
    # (0.5 a second, capped at 300), and a second 2x burst is absorbed for 300 s again.
    util = np.concatenate([np.full(400, 2.0), np.full(600, 0.5), np.full(301, 2.0)])
    share = cap.burst_throttle(util[:, None], np.ones(len(util)))[:, 0]
    assert share[:300].sum() == 0
    assert share[300:400].tolist() == [0.5] * 100
    assert share[400:1000].sum() == 0
    assert share[1000:1300].sum() == 0 and share[1300] == 0.5


def test_provisioned_capacity_throttles_after_the_burst_bank() -> None:
    # 250,000 sessions/day x 6 turns = 1.5e6 puts of 256 B (1 WCU) a day, flat: 17.36 WCU/s against 10
    # provisioned. The bank (300 WCU-s-equivalents of one limit) drains at 7.36/s: ~408 s; afterwards
    # 7.36 WCU/s is throttled for the rest of the day: 7.361 x (86,400 - 407.5) = 633,000 WCU (~1 % noise).
    model = synthetic_model(turns=6, gap_s=30.0, item_bytes=256.0)
    p = run(model, 250_000, peak_to_mean=1.0, fine_s=60.0, coarse_s=60.0, mode="provisioned",
            provisioned_rcu=100.0, provisioned_wcu=10.0)
    expected = (1_500_000 / 86_400 - 10.0) * (86_400 - 300 / (1_500_000 / 86_400 / 10.0 - 1.0))
    assert expected == pytest.approx(633_000, rel=1e-3)
    assert p.throttling["table_wcu"] == pytest.approx(expected, rel=0.03)
    assert p.throttling["table_rcu"] == 0
    # provisioned cost: 10 WCU x 24 h x 0.00065 + 100 RCU x 24 h x 0.00013 = 0.156 + 0.312
    assert p.cost["per_day"]["writes"] == 0.16 and p.cost["per_day"]["reads"] == 0.31


# --------------------------------------------------------------------------- Redis memory, alarms


def test_redis_memory_is_active_sessions_times_window_times_item() -> None:
    # 100,000 sessions/day flat = 1.1574 sessions/s; each lives in Redis from its first turn to its last
    # (5 gaps x 30 s = 150 s) plus the 3,600 s TTL = 3,750 s -> 1.1574 x 3,750 = 4,340 live sessions on average.
    # Each list holds min(6 turns, window 10) = 6 items x (1,000 B + 24 B element overhead) + 96 B key = 6,240 B.
    # The busiest 1-min bucket is a Poisson max: +3.3 sd of 66, about 4,560.
    model = synthetic_model(turns=6, gap_s=30.0, item_bytes=1000.0, window=10)
    p = run(model, 100_000, peak_to_mean=1.0, fine_s=60.0, coarse_s=60.0)
    live = p.redis["peak_live_sessions"]
    assert 4340 * 0.98 < live < 4340 * 1.10
    assert p.redis["peak_bytes"] == pytest.approx(6240.0 * live)
    assert p.redis["window_turns"] == 10


@pytest.mark.parametrize(("session_share", "fires"), [(0.05, True), (0.005, False)])
def test_stateless_alarm_at_scale(session_share: float, fires: bool) -> None:
    # A 60 s outage fills one 60 s period: stateless sessions = share x active sessions in the busiest minute,
    # i.e. 5 % (> the 1 % threshold, 1 datapoint: fires) or 0.5 % (stays OK). The latency alarm: a 50 % slow-call
    # share breaches ceil(60/60) = 1 period, but needs 3 datapoints: it does not fire for a 60 s outage.
    deg = Degradation(Fitted(0.3, 100, "given"), Fitted(session_share, 100, "given"), None,
                      Fitted(0.5, 100, "given"))
    p = run(synthetic_model(turns=6, gap_s=30.0, degradation=deg), 100_000)
    st = p.alarms["stateless"]
    assert st["share_pct"] == pytest.approx(100 * session_share)
    assert st["stateless_sessions"] == round(session_share * p.alarms["active_sessions_in_period"])
    assert st["fires"] is fires
    lat = p.alarms["dynamodb_latency"]
    assert lat["breaching_periods"] == 1 and lat["fires"] is False


# --------------------------------------------------------------------------- fitting


def test_fit_zipf_recovers_the_exponent_of_exact_counts() -> None:
    # counts exactly proportional to k^-1.2 over the whole population: the likelihood peaks at s = 1.2
    k = np.arange(1, 1001, dtype=float)
    counts = 1e6 * k**-1.2 / (k**-1.2).sum()
    assert fit_zipf(counts, 1000) == pytest.approx(1.2, abs=1e-3)


def test_fit_model_from_a_synthetic_zipf_run(tmp_path: Path) -> None:
    # synth.py draws 2,200 turns over a pool of 400 keys with s = 1.2; with run.json stating the population the
    # maximum-likelihood fit lands near 1.2 (the sample is 2,200 turns: allow +-0.1)
    d = generate(tmp_path / "zipf-run", SynthConfig(zipf=True))
    edit_run_json(d, zipf_population=400)
    m = fit_model(load_run(d))
    assert m.skew.kind == "zipf" and m.skew.population == 400
    assert m.skew.s == pytest.approx(1.2, abs=0.1)
    assert m.skew.samples == 2200


def test_markdown_states_the_key_skew() -> None:
    p = run(synthetic_model(turns=2), 1000)
    assert "| key skew | uniform |" in markdown(p)


# --------------------------------------------------------------------------- CLI


@pytest.mark.parametrize(("text", "value"), [("10000000", 10_000_000), ("10M", 10_000_000), ("10m", 10_000_000),
                                             (" 10M ", 10_000_000), ("10k", 10_000), ("10K", 10_000),
                                             ("10000", 10_000), ("1.5M", 1_500_000), ("100k", 100_000)])
def test_sessions_per_day_parsing(text: str, value: int) -> None:
    assert parse_count(text) == value


def test_sessions_per_day_10m_equals_10000000() -> None:
    assert parse_count("10M") == parse_count("10000000") == 10_000_000
    assert parse_count("10k") == parse_count("10000") == 10_000


@pytest.mark.parametrize("junk", ["", "ten", "10G", "10MM", "M", "-5", "1e7", "10,000", "0x10", "10 000"])
def test_sessions_per_day_rejects_junk(junk: str) -> None:
    with pytest.raises(typer.BadParameter, match=r"--sessions-per-day takes an integer with an optional k or M"):
        parse_count(junk)


@pytest.mark.parametrize("tiny", ["0", "0k", "0.0001k"])
def test_sessions_per_day_rejects_zero(tiny: str) -> None:
    with pytest.raises(typer.BadParameter, match="at least 1"):
        parse_count(tiny)


@pytest.fixture(scope="module")
def synth_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("project") / "run-chat", SynthConfig())


def _harness(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "harness", "project", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_cli_rejects_junk_session_count(synth_run: Path, tmp_path: Path) -> None:
    r = _harness(str(synth_run), "--sessions-per-day", "10x", "--out", str(tmp_path / "out"))
    assert r.returncode == 2, r.stderr
    assert "--sessions-per-day takes an integer with an optional k or M, not '10x'" in r.stderr
    assert not (tmp_path / "out").exists()


def test_cli_projects_a_synthetic_run(synth_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "scale"
    r = _harness(str(synth_run), "--sessions-per-day", "100k", "--days", "1", "--out", str(out))
    assert r.returncode == 0, r.stderr
    data = json.loads((out / "projection.json").read_text())
    md = (out / "projection.md").read_text()
    assert data["params"]["sessions_per_day"] == 100_000
    assert data["summary"]["sessions_per_day"] == 100_000
    # turns/day = 100,000 sessions x the run's mean turns per session (resampled: within 2 %)
    mean_turns = data["model"]["turns_per_session"]["mean"]
    assert data["summary"]["turns_per_day"] == pytest.approx(100_000 * mean_turns, rel=0.02)
    assert data["summary"]["throttled_requests"] == 0  # ~580k turns/day is far under every limit
    assert {g["name"] for g in data["gate"]} >= {"scale.throttling", "scale.alarm.stateless"}
    assert all(g["passed"] for g in data["gate"])
    assert md.startswith("# Scale projection: 100,000 sessions/day (PASS)")
    assert "| throttled DynamoDB requests | 0 of " in md
    assert f"| partitions (size, throughput, final) | {data['partitions']['by_size_max']}" in md
    assert md in r.stdout
    assert "<section id='scale'>" in (out / "scale.html").read_text()
    assert "PASS: wrote" in r.stderr
    assert math.isfinite(data["runtime"]["seconds"])
