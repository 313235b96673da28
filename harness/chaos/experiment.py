"""``harness chaos --experiment FILE.yaml``: a declared experiment, kept in a file, judged by its expectations.

An experiment names the variant, the load, the phases, the faults and their
schedule, SLO overrides, and what must come out ("the breaker must open", "the
fault p99 stays under 300 ms"). It is validated against the JSON Schema
shipped next to this module before anything starts; each error names its line
and field. Each fault maps onto the command line's flags (``ChaosFlags``) as a
group of its own: a file says nothing the flags cannot, and two faults of one
kind keep their own values and schedules.

The run's own verdict is written as usual. The experiment then judges its
expectations against that verdict: exit 0 when every expectation is met, 1
when one is not, 3 when one rests on an inconclusive check.
``experiment.json`` in the run directory holds the experiment as run (every
value resolved) and each expectation's result.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from harness.chaos.faults import TOXIC_KINDS
from harness.chaos.flags import ChaosFlags

SCHEMA_PATH = Path(__file__).with_name("experiment.schema.json")


class ExperimentError(ValueError):
    """The file is not a valid experiment; the message names the line and the field."""


@dataclass(frozen=True)
class Expectation:
    """One thing the run must show: a check's outcome, or a bound on its measured value."""

    check: str
    outcome: str | None = None     # pass | fail | inconclusive
    max: float | None = None       # measured must be <= max
    min: float | None = None       # measured must be >= min
    variant: str | None = None     # only for this variant


@dataclass(frozen=True)
class ExpectationResult:
    """How an expectation came out against the verdict."""

    expectation: Expectation
    met: bool | None               # None: the check is missing or inconclusive where a value was needed
    seen: str


@dataclass(frozen=True)
class Experiment:
    """A parsed experiment file: the flags it maps to and what it expects."""

    name: str
    description: str
    flags: ChaosFlags
    expectations: list[Expectation]
    source: dict[str, Any]


def _line_of(node: yaml.Node, path: list[Any]) -> int:
    """The 1-based line of the YAML node at ``path`` (the deepest one that exists)."""
    for key in path:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == str(key)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            match = node.value[key]
        else:
            match = None
        if match is None:
            break
        node = match
    return node.start_mark.line + 1


def _load(path: Path) -> tuple[dict[str, Any], yaml.Node | None]:
    if not path.is_file():
        raise ExperimentError(f"--experiment {path}: no such file")
    text = path.read_text()
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "somewhere"
        raise ExperimentError(f"{path}: {where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise ExperimentError(f"{path}: line 1: an experiment is a mapping with name, faults, ...")
    return data, node


def _validate(path: Path, data: dict[str, Any], node: yaml.Node | None) -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        lines = []
        for err in errors[:10]:
            where, message = list(err.absolute_path), err.message
            if err.validator == "not" and err.validator_value == {}:  # the schema's "a key this kind does not take"
                message = f"{where[-1]} is not a parameter of this fault's kind"
            field = ".".join(str(p) for p in where) or "(top level)"
            line = _line_of(node, where) if node is not None else 1
            lines.append(f"{path}: line {line}: {field}: {message}")
        raise ExperimentError("\n".join(lines))


SCHEDULE_KEYS = {"flap": "flap", "ramp": "ramp", "steps": "steps", "at": "fault_at", "for": "fault_for",
                 "toxicity": "toxicity"}
"""Schedule keys an experiment may give per fault or for all, and the flag each one means."""


def _fault_flags(fault: dict[str, Any], schedule: dict[str, Any]) -> ChaosFlags:
    """One fault entry as the flags of a command that gives only it, with its own schedule over the file's."""
    out: dict[str, Any] = {}
    p, kind = {"dynamodb": "dynamo", "redis": "redis", "llm": "llm"}[fault["target"]], fault["kind"]
    if kind == "latency":
        out[f"{p}_latency"] = fault["latency"]
        if "jitter" in fault:
            out[f"{p}_jitter"] = fault["jitter"]
        if "stream" in fault:
            out["stream"] = fault["stream"]
    elif kind in ("down", "blackhole", "readonly", "flush"):
        out[f"{p}_{kind}"] = True
        if "stream" in fault:  # a blackhole's (the schema allows no other)
            out["stream"] = fault["stream"]
    elif kind in TOXIC_KINDS:  # the --toxic spelling, TARGET:KIND[=VALUE][@STREAM]
        spec = f"{fault['target']}:{kind}" + (f"={fault['value']}" if "value" in fault else "")
        out["toxic"] = (spec + (f"@{fault['stream']}" if "stream" in fault else ""),)
    else:  # throttle, errors
        out[f"{p}_{kind}"] = str(fault["rate"])
        if "code" in fault:
            out["dynamo_throttle_code"] = fault["code"]
    # The file's schedule reaches each fault it can apply to: a ramp or steps only latency, a
    # toxicity only the faults on a share of connections; the fault's own keys win.
    shared = {k: v for k, v in schedule.items()
              if not (k in ("ramp", "steps") and kind != "latency")
              and not (k == "toxicity" and kind not in ("latency", "blackhole", *TOXIC_KINDS))}
    for key, flag in SCHEDULE_KEYS.items():
        if (value := fault.get(key, shared.get(key))) is not None:
            out[flag] = str(value)
    return ChaosFlags(**out)


def to_flags(data: dict[str, Any], report_dir: Path, slo_dir: Path) -> ChaosFlags:
    """The command-line flags this experiment means (the file wins over nothing: it is the whole run)."""
    load = data.get("load", {})
    phases = data.get("phases", {})
    values: dict[str, Any] = {
        "variant": data.get("variant", "hardened"), "quick": bool(data.get("quick", False)),
        "scenario": ",".join(load.get("scenarios", ["chat"])), "users": load.get("users"),
        "arrival_rate": load.get("arrival_rate"), "seed": load.get("seed"),
        "baseline": phases.get("baseline"), "fault": phases.get("fault"), "recovery": phases.get("recovery"),
        "report_dir": report_dir,
        # one group per fault, so two faults of one kind keep their own values and schedules
        "more_faults": tuple(_fault_flags(fault, data.get("schedule") or {}) for fault in data.get("faults", [])),
    }
    if data.get("slo"):
        slo_dir.mkdir(parents=True, exist_ok=True)
        slo_path = slo_dir / f"{data['name']}-slo.yaml"
        slo_path.write_text(yaml.safe_dump(data["slo"]))
        values["slo"] = slo_path
    return ChaosFlags(**{k: v for k, v in values.items() if v is not None})


def load_experiment(path: Path, report_dir: Path) -> Experiment:
    """Read, validate and map an experiment file; raises :class:`ExperimentError`."""
    data, node = _load(path)
    _validate(path, data, node)
    expectations = [Expectation(**e) for e in data.get("expect", [])]
    flags = to_flags(data, report_dir, report_dir / ".experiments")
    return Experiment(data["name"], data.get("description", ""), flags, expectations, data)


def _judge_one(e: Expectation, checks: dict[str, dict[str, Any]]) -> ExpectationResult:
    check = checks.get(e.check)
    if check is None:
        return ExpectationResult(e, None, "the run has no such check")
    outcome, measured = str(check.get("outcome")), check.get("measured")
    seen = f"{outcome}, measured {measured}"
    if e.outcome is not None and outcome != e.outcome:
        return ExpectationResult(e, None if outcome == "inconclusive" else False, seen)
    if e.max is not None or e.min is not None:
        if not isinstance(measured, int | float):
            return ExpectationResult(e, None, seen + " (no number to compare)")
        if (e.max is not None and measured > e.max) or (e.min is not None and measured < e.min):
            return ExpectationResult(e, False, seen)
    return ExpectationResult(e, True, seen)


def judge(experiment: Experiment, run_dir: Path, run_exit: int,
          variant: str | None = None) -> tuple[int, list[ExpectationResult]]:
    """Each expectation against the run's verdict; the exit code and ``experiment.json``.

    ``variant`` is the design the run drove (``--variant`` may override the file's).
    """
    variant = variant or experiment.flags.variant
    verdict_path = run_dir / "verdict.json"
    checks = {c["name"]: c for c in json.loads(verdict_path.read_text())["checks"]} if verdict_path.is_file() else {}
    mine = [e for e in experiment.expectations if e.variant in (None, variant)]
    results = [_judge_one(e, checks) for e in mine]
    if run_exit in (2, 130) or not mine:
        code = run_exit
    elif any(r.met is False for r in results):
        code = 1
    else:
        code = 3 if any(r.met is None for r in results) else 0
    flags: dict[str, Any] = {k: (str(v) if isinstance(v, Path) else v)
                             for k, v in asdict(experiment.flags).items()}
    default = asdict(ChaosFlags())  # each fault's group shows only what it sets
    flags["more_faults"] = [{k: v for k, v in asdict(group).items() if v != default[k] and k != "report_dir"}
                            for group in experiment.flags.more_faults]
    (run_dir / "experiment.json").write_text(json.dumps({
        "name": experiment.name, "description": experiment.description, "file": experiment.source,
        "variant": variant,
        "resolved_flags": flags, "exit_code": code,
        "expectations": [{**asdict(r.expectation), "met": r.met, "seen": r.seen} for r in results],
    }, indent=2, default=str) + "\n")
    return code, results
