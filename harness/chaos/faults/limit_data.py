"""The connection is closed after ``value`` bytes: a reply cut short, then a dead pooled connection."""

from __future__ import annotations

from dataclasses import dataclass

from harness.chaos.faults.network import ToxicFault


@dataclass
class LimitDataFault(ToxicFault):
    """``limit_data``: each affected connection carries ``value`` bytes, then closes (calls on it fail or retry)."""

    toxic_type = "limit_data"
    param = "bytes"
    unit = "B"
    default = 512
    fails_calls = False  # a call that fits under the limit succeeds; the SDK retries on a fresh connection
