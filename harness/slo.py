"""Service-level objectives: the targets every analyzer checks against.

Why a file: the design document states its targets in prose (p99 < 10 ms,
alarm thresholds, 24 h TTL). ``slo_default.yaml`` writes them down once, and a
user can override any subset with ``--slo FILE`` (YAML or JSON) without touching
code. Loading validates strictly -- an unknown key or a wrong type is a clear
:class:`SloError`, never a silently ignored typo.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PATH = Path(__file__).with_name("slo_default.yaml")
ALARM_EXPECTATIONS = ("report", "must_fire", "must_not_fire", "must_not_fire_in_baseline", "as_design")
TREAT_MISSING = ("missing", "notBreaching", "breaching", "ignore")


class SloError(ValueError):
    """The SLO file is missing, unparsable or has unknown keys / wrong types."""


@dataclass(frozen=True)
class Slo:
    """Validated SLO settings; ``raw`` is the merged nested dict (defaults + overrides)."""

    raw: dict[str, Any]
    source: str = "default"

    def get(self, *path: str) -> Any:
        node: Any = self.raw
        for p in path:
            node = node[p]
        return node

    def f(self, *path: str) -> float:
        return float(self.get(*path))

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.raw)


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise SloError(f"cannot read SLO file {path}: {e.strerror or e}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        fmt = "JSON" if path.suffix.lower() == ".json" else "YAML"
        raise SloError(f"SLO file {path} is not valid {fmt}: {e}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SloError(f"SLO file {path} must contain a mapping at the top level")
    return data


def _merge(base: dict[str, Any], over: dict[str, Any], where: str) -> None:
    for key, val in over.items():
        here = f"{where}.{key}" if where else str(key)
        if key not in base:
            known = ", ".join(sorted(base))
            raise SloError(f"unknown SLO key '{here}' (known at this level: {known})")
        cur = base[key]
        if isinstance(cur, dict):
            if not isinstance(val, dict):
                raise SloError(f"SLO key '{here}' must be a mapping")
            _merge(cur, val, here)
        elif isinstance(cur, bool):
            if not isinstance(val, bool):
                raise SloError(f"SLO key '{here}' must be true/false, got {val!r}")
            base[key] = val
        elif isinstance(cur, (int, float)):
            if isinstance(val, bool) or not isinstance(val, (int, float)):
                raise SloError(f"SLO key '{here}' must be a number, got {val!r}")
            base[key] = val
        elif isinstance(cur, list):
            if not isinstance(val, list) or not all(isinstance(x, str) and x for x in val):
                raise SloError(f"SLO key '{here}' must be a list of non-empty strings, got {val!r}")
            base[key] = list(val)
        elif isinstance(cur, str):
            if not isinstance(val, str):
                raise SloError(f"SLO key '{here}' must be a string, got {val!r}")
            base[key] = val
        else:
            base[key] = val


def _validate(d: dict[str, Any]) -> None:
    for name, exp in d["expect_alarms"].items():
        if exp not in ALARM_EXPECTATIONS:
            allowed = ", ".join(ALARM_EXPECTATIONS)
            raise SloError(f"expect_alarms.{name} must be one of {allowed}, got {exp!r}")
    for name in ("dynamodb_latency", "circuit_open", "stateless"):
        a = d["alarms"][name]
        if a["treat_missing_data"] not in TREAT_MISSING:
            raise SloError(f"alarms.{name}.treat_missing_data must be one of {', '.join(TREAT_MISSING)}")
        if a["evaluate_low_sample_count_percentile"] not in ("evaluate", "ignore"):
            raise SloError(f"alarms.{name}.evaluate_low_sample_count_percentile must be evaluate or ignore")
        if not 1 <= a["datapoints_to_alarm"] <= a["evaluation_periods"]:
            raise SloError(f"alarms.{name}: need 1 <= datapoints_to_alarm <= evaluation_periods")
    for ph, share in d["requests"]["max_failed_share"].items():
        if not 0.0 <= float(share) <= 1.0:
            raise SloError(f"requests.max_failed_share.{ph} must be between 0 and 1, got {share!r}")
    if not 0.5 <= d["latency"]["confidence"] < 1.0:
        raise SloError("latency.confidence must be in [0.5, 1)")
    if d["alarms"]["period_s"] <= 0:
        raise SloError("alarms.period_s must be > 0")
    if d["partitions"]["simulated_partitions"] < 1:
        raise SloError("partitions.simulated_partitions must be >= 1")


def load_slo(path: str | Path | None = None) -> Slo:
    """Load the defaults, overlay ``path`` (YAML, or JSON by ``.json`` suffix) if given, validate."""
    base = _read(DEFAULT_PATH)
    source = "default"
    if path is not None:
        p = Path(path)
        _merge(base, _read(p), "")
        source = str(p)
    _validate(base)
    return Slo(raw=base, source=source)
