"""What a projection must show to pass: the ``scale`` section of the SLO file.

Why in the SLO file: a team states "no throttling at 10M sessions a day" next
to its other targets, and CI gates on it with the exit code. The section is
read here, strictly (an unknown key or a wrong type is an error), and the rest
of the file is validated by ``harness.slo`` as for every other command.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.project.projection import AlarmPolicy, Projection
from harness.slo import Slo, SloError, load_slo

EXPECTATIONS = ("report", "must_fire", "must_not_fire")


@dataclass(frozen=True)
class ScaleSlo:
    """Targets for a projection. ``max_throttled_share`` None means throttling is reported, not gated."""

    max_throttled_share: float | None = 0.0
    expect_stateless_alarm: str = "report"
    expect_latency_alarm: str = "report"
    max_redis_gb: float | None = None


def _scale_section(raw: dict[str, Any]) -> ScaleSlo:
    known = ScaleSlo.__dataclass_fields__
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise SloError(f"unknown SLO key(s) scale.{', scale.'.join(unknown)} (known: {', '.join(known)})")
    out = ScaleSlo(**raw)
    for name in ("expect_stateless_alarm", "expect_latency_alarm"):
        if getattr(out, name) not in EXPECTATIONS:
            raise SloError(f"scale.{name} must be one of {', '.join(EXPECTATIONS)}")
    for name in ("max_throttled_share", "max_redis_gb"):
        v = getattr(out, name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0):
            raise SloError(f"scale.{name} must be a number >= 0 or null")
    return out


def load_scale_slo(path: Path | None) -> tuple[Slo, ScaleSlo]:
    """The whole SLO (through ``harness.slo``) and its ``scale`` section.

    ``harness.slo`` rejects keys it does not know, so the ``scale`` section is
    taken out before the rest is validated there (an SLO file with a ``scale``
    section stays valid for ``harness project`` whether or not the defaults
    list it).
    """
    if path is None:
        return load_slo(None), ScaleSlo()
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise SloError(f"cannot read SLO file {path}: {exc}") from None
    data = data or {}
    if not isinstance(data, dict):
        raise SloError(f"SLO file {path} must contain a mapping at the top level")
    scale = data.pop("scale", None) or {}
    if not isinstance(scale, dict):
        raise SloError("SLO key 'scale' must be a mapping")
    if "scale" in load_slo(None).raw:  # the defaults know the section: let harness.slo see it too
        data["scale"] = scale
    with tempfile.TemporaryDirectory() as tmp:
        rest = Path(tmp) / "slo.json"
        rest.write_text(json.dumps(data), encoding="utf-8")
        slo = load_slo(rest)
    return Slo(slo.raw, str(path)), _scale_section(scale)


def alarm_policy(slo: Slo, outage_s: float = 60.0) -> AlarmPolicy:
    """The design's stateless and DynamoDB-latency alarms at the production period (not a run's compressed one)."""
    a = slo.get("alarms")
    return AlarmPolicy(period_s=float(a["period_s"]), stateless_threshold_pct=float(a["stateless"]["threshold"]),
                       stateless_datapoints=int(a["stateless"]["datapoints_to_alarm"]),
                       latency_threshold_ms=float(a["dynamodb_latency"]["threshold"]),
                       latency_datapoints=int(a["dynamodb_latency"]["datapoints_to_alarm"]), outage_s=outage_s)


def _alarm_check(name: str, expect: str, fires: bool | None) -> dict[str, Any]:
    if expect == "report":
        return {"name": f"scale.alarm.{name}", "passed": True, "measured": fires, "target": "report",
                "detail": "reported, not gated"}
    if fires is None:
        return {"name": f"scale.alarm.{name}", "passed": False, "measured": None, "target": expect,
                "detail": "the run measured no degradation to scale, so the expectation cannot be met"}
    ok = fires if expect == "must_fire" else not fires
    return {"name": f"scale.alarm.{name}", "passed": ok, "measured": fires, "target": expect,
            "detail": f"a {expect.replace('_', ' ')} expectation; projected: {'fires' if fires else 'stays OK'}"}


def evaluate(proj: Projection, targets: ScaleSlo) -> list[dict[str, Any]]:
    """Checks of the projection against ``targets``; the command exits 1 if any fails."""
    checks: list[dict[str, Any]] = []
    share = float(proj.summary["throttled_share"])
    if targets.max_throttled_share is not None:
        checks.append({"name": "scale.throttling", "passed": share <= targets.max_throttled_share,
                       "measured": share, "target": f"<= {targets.max_throttled_share:g}",
                       "detail": f"{proj.summary['throttled_requests']} of {proj.summary['dynamodb_requests']} "
                                 f"DynamoDB requests throttled at {proj.summary['sessions_per_day']:,} sessions/day"})
    if targets.max_redis_gb is not None:
        gb = float(proj.redis["peak_gb"])
        checks.append({"name": "scale.redis_memory", "passed": gb <= targets.max_redis_gb, "measured": gb,
                       "target": f"<= {targets.max_redis_gb:g} GB", "detail": "peak Redis memory"})
    checks.append(_alarm_check("stateless", targets.expect_stateless_alarm, proj.alarms["stateless"]["fires"]))
    checks.append(_alarm_check("dynamodb_latency", targets.expect_latency_alarm,
                               proj.alarms["dynamodb_latency"]["fires"]))
    return checks
