"""``harness chaos`` flags to :class:`ChaosOptions`, with every check done before anything starts.

Why a module of its own: a typo in a flag must cost a usage error (exit 2) in
milliseconds, never a half-run with faults applied.  Keeping the parsing here,
apart from the typer signature, keeps the CLI a thin shell and lets each rule be
tested without a process.  Every problem is a :class:`UsageError` whose message
names the flag.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from harness.breaker_timings import DESIGN, QUICK, BreakerTimings
from harness.chaos.faults import (
    BlackholeFault,
    DownFault,
    DynamoErrorFault,
    DynamoTimeoutsFault,
    Fault,
    LatencyFault,
    LlmErrorFault,
    RedisFlushFault,
    RedisReadonlyFault,
    ToxicFault,
    parse_burst,
    parse_rate,
    parse_toxic,
)
from harness.chaos.runner import (
    DESIGN_PHASES,
    QUICK_PHASES,
    QUICK_THINK_S,
    QUICK_USERS,
    ChaosOptions,
)
from harness.chaos.schedule import Flap, Window
from harness.chaos.target import TargetError, breaker_of_target, parse_breaker_flag
from harness.durations import DurationError, parse_duration
from harness.loadgen.locust_run import scenario_classes
from harness.slo import Slo, SloError, load_slo
from harness.stack.net import AddressError, require_loopback
from harness.state import variant_problem

MAX_USERS = 1000
THROTTLE_CODES = ("ProvisionedThroughputExceededException", "ThrottlingException")
MAX_WORKERS = 64
MAX_RUN_S = 3600.0
MAX_REPEAT = 100


class UsageError(ValueError):
    """A flag, or a combination of flags, that cannot make a run."""


@dataclass
class ChaosFlags:
    """The raw flags, as typed on the command line."""

    dynamo_latency: str | None = None
    dynamo_jitter: str | None = None
    dynamo_down: bool = False
    redis_latency: str | None = None
    redis_jitter: str | None = None
    redis_down: bool = False
    dynamo_blackhole: bool = False
    redis_blackhole: bool = False
    redis_readonly: bool = False
    redis_flush: bool = False
    toxicity: str | None = None
    toxic: tuple[str, ...] = ()
    dynamo_throttle: str | None = None
    dynamo_throttle_code: str | None = None  # ProvisionedThroughputExceededException (default) or ThrottlingException
    stream: str | None = None  # the link the latency and blackhole faults of this command act on
    flap: str | None = None
    ramp: str | None = None
    steps: str | None = None
    fault_at: str | None = None    # the faults of this command start this far into the fault phase
    fault_for: str | None = None   # ... and last this long (default: to the phase's end)
    dynamo_errors: str | None = None
    dynamo_timeouts: str | None = None
    llm_latency: str | None = None
    llm_jitter: str | None = None
    llm_errors: str | None = None
    llm_throttle: str | None = None
    users: int | None = None
    arrival_rate: float | None = None
    scenario: str = "chat"
    variant: str = "hardened"
    baseline: str | None = None
    fault: str | None = None
    recovery: str | None = None
    quick: bool = False
    alarm_period: str | None = None
    slo: Path | None = None
    report_dir: Path = Path("reports")
    target: str | None = None
    toxiproxy: str | None = None
    workers: int = 0
    service_events: Path | None = None
    dynamodb_url: str | None = None
    seed: int | None = None
    breaker: str | None = None
    home: Path | None = None
    experiment: Path | None = None  # only whether one was given matters here: the CLI loads it
    repeat: int = 1
    more_faults: tuple[ChaosFlags, ...] = ()  # further fault groups, each with its own schedule (experiment files)


# What an experiment file declares; the command line may not also set these.
EXPERIMENT_OWNS = (
    "dynamo_latency", "dynamo_jitter", "dynamo_down", "redis_latency", "redis_jitter", "redis_down", "llm_latency",
    "llm_jitter", "llm_errors", "llm_throttle", "dynamo_throttle_code", "stream", "dynamo_blackhole",
    "redis_blackhole", "redis_readonly", "redis_flush", "toxicity", "toxic", "dynamo_throttle", "dynamo_errors",
    "dynamo_timeouts", "flap", "ramp", "steps", "fault_at", "fault_for", "users", "arrival_rate", "scenario",
    "baseline", "fault", "recovery", "slo",
)


def with_experiment(cli: ChaosFlags, declared: ChaosFlags) -> ChaosFlags:
    """The experiment's flags, plus where and against what the command line runs it.

    ``--seed``, ``--quick`` and ``--variant seed`` on the command line win (to repeat,
    compress, or run the same experiment on the other design); any other flag the
    file declares is a usage error, not a silent override.
    """
    default = ChaosFlags()
    clash = [name for name in EXPERIMENT_OWNS if getattr(cli, name) != getattr(default, name)]
    if clash:
        shown = ", ".join("--" + n.replace("_", "-") for n in clash)
        raise UsageError(f"{shown}: the experiment file declares the faults, load, phases and SLO; "
                         "edit the file instead")
    return dataclasses.replace(
        declared, report_dir=cli.report_dir, target=cli.target, toxiproxy=cli.toxiproxy, workers=cli.workers,
        service_events=cli.service_events, dynamodb_url=cli.dynamodb_url, breaker=cli.breaker, home=cli.home,
        alarm_period=cli.alarm_period, experiment=cli.experiment, repeat=cli.repeat,
        seed=cli.seed if cli.seed is not None else declared.seed,
        variant=cli.variant if cli.variant != default.variant else declared.variant,
        quick=cli.quick or declared.quick)


def _ms(text: str) -> int:
    return round(parse_duration(text) * 1000)


def _share(f: ChaosFlags) -> tuple[float, str]:
    """``--toxicity``: the share of connections the network faults of this command affect."""
    if f.toxicity is None:
        return 1.0, ""
    share = parse_rate(f.toxicity)
    return share, f"-{round(share * 100):g}pct"


def _proxy_faults(f: ChaosFlags, share: float, tail: str) -> tuple[list[Fault], list[str]]:
    """DynamoDB, then Redis, then the LLM: latency, blackhole, down, in the order they are applied."""
    faults: list[Fault] = []
    labels: list[str] = []
    link = f"-{f.stream}" if f.stream else ""
    for proxy, label, latency, jitter, blackhole, down in (
        ("dynamodb", "dynamo", f.dynamo_latency, f.dynamo_jitter, f.dynamo_blackhole, f.dynamo_down),
        ("redis", "redis", f.redis_latency, f.redis_jitter, f.redis_blackhole, f.redis_down),
        ("llm", "llm", f.llm_latency, f.llm_jitter, False, False),
    ):
        if latency is None and jitter is not None:
            latency = "0ms"  # jitter alone: answers vary around no added latency
        if latency is not None:
            faults.append(LatencyFault(proxy, _ms(latency), _ms(jitter or "0ms"), toxicity=share,
                                       stream=f.stream or "downstream"))
            labels.append(f"{label}-latency-{latency}{link}{tail}")
        if blackhole:
            faults.append(BlackholeFault(proxy, toxicity=share, stream=f.stream or ""))
            labels.append(f"{label}-blackhole{link}{tail}")
        if down:
            faults.append(DownFault(proxy))
            labels.append(f"{label}-down")
    return faults, labels


def parse_faults(f: ChaosFlags) -> tuple[list[Fault], str]:
    """The faults asked for, and the run's label (``dynamo-latency-2s+redis-down``)."""
    try:
        share, tail = _share(f)
        faults, labels = _proxy_faults(f, share, tail)
        for spec in f.toxic:
            fault = parse_toxic(spec, share)
            faults.append(fault)
            labels.append(f"{fault.proxy.replace('dynamodb', 'dynamo')}-{fault.toxic_type.replace('_', '-')}{tail}")
        if f.stream is not None and not any(isinstance(x, LatencyFault | BlackholeFault) for x in faults):
            raise UsageError("--stream applies to latency and blackhole faults (a --toxic names its own @stream): "
                             "give one of them too")
        if f.toxicity is not None and not any(isinstance(x, LatencyFault | ToxicFault) for x in faults):
            raise UsageError("--toxicity applies to latency, blackhole and --toxic faults: give one of them too")
        throttle_code = f.dynamo_throttle_code or "ProvisionedThroughputExceededException"
        if throttle_code not in THROTTLE_CODES:
            raise UsageError(f"--dynamo-throttle-code {throttle_code}: use one of {', '.join(THROTTLE_CODES)}")
        if f.dynamo_throttle_code is not None and f.dynamo_throttle is None:
            raise UsageError("--dynamo-throttle-code names the error of --dynamo-throttle: give that too")
        for rate, code, label in ((f.dynamo_throttle, throttle_code, "dynamo-throttle"),
                                  (f.dynamo_errors, "InternalServerError", "dynamo-errors")):
            if rate is not None:
                faults.append(DynamoErrorFault(parse_rate(rate), code))
                labels.append(f"{label}-{rate.rstrip('%')}" + ("-throttling-exception" if code == "ThrottlingException"
                                                               else ""))
        if f.dynamo_timeouts is not None:
            count, every = parse_burst(f.dynamo_timeouts)
            faults.append(DynamoTimeoutsFault(count, every))
            labels.append(f"dynamo-timeouts-{count}-per-{every:g}s")
        if f.redis_readonly:
            faults.append(RedisReadonlyFault())
            labels.append("redis-readonly")
        if f.redis_flush:
            faults.append(RedisFlushFault())
            labels.append("redis-flush")
        for rate, status, label in ((f.llm_errors, 529, "llm-errors"), (f.llm_throttle, 429, "llm-throttle")):
            if rate is not None:
                faults.append(LlmErrorFault(parse_rate(rate), status=status))
                labels.append(f"{label}-{rate.rstrip('%')}")
    except (DurationError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    return faults, "+".join(labels) or "no-fault"


def parse_ramp(f: ChaosFlags, faults: list[Fault]) -> str:
    """``--ramp A..B``: every latency fault of this command rises from A to B over the fault phase."""
    if f.ramp is None:
        return ""
    lo, sep, hi = f.ramp.partition("..")
    latencies = [x for x in faults if isinstance(x, LatencyFault)]
    if not sep:
        raise UsageError(f"invalid --ramp {f.ramp!r}: use FROM..TO, e.g. 0ms..2s")
    if not latencies:
        raise UsageError("--ramp applies to latency faults: give --dynamo-latency, --redis-latency or --llm-latency")
    try:
        start, end = _ms(lo), _ms(hi)
    except DurationError as exc:
        raise UsageError(f"invalid --ramp {f.ramp!r}: {exc}") from None
    for fault in latencies:
        fault.ramp_from_ms, fault.latency_ms = start, end
    return f"-ramp-{lo}-{hi}"


def parse_steps(f: ChaosFlags, faults: list[Fault], fault_s: float) -> str:
    """``--steps 4s=500ms,8s=2s``: every latency fault of this command moves to each value at its time."""
    if f.steps is None:
        return ""
    latencies = [x for x in faults if isinstance(x, LatencyFault)]
    if not latencies:
        raise UsageError("--steps applies to latency faults: give --dynamo-latency, --redis-latency or "
                         "--llm-latency (the value until the first step)")
    if f.ramp is not None:
        raise UsageError("--steps and --ramp both schedule the latency: give one")
    steps: list[tuple[float, int]] = []
    for part in f.steps.split(","):
        at, sep, value = part.strip().partition("=")
        if not sep:
            raise UsageError(f"invalid --steps {f.steps!r}: use TIME=LATENCY,..., e.g. 4s=500ms,8s=2s")
        try:
            step = (parse_duration(at), _ms(value))
        except DurationError as exc:
            raise UsageError(f"invalid --steps {f.steps!r}: {exc}") from None
        if step[0] <= 0 or step[0] >= fault_s or (steps and step[0] <= steps[-1][0]):
            raise UsageError(f"invalid --steps {f.steps!r}: use TIME=LATENCY,... with times rising inside the "
                             f"{fault_s:g} s fault phase, e.g. 4s=500ms,8s=2s")
        steps.append(step)
    for fault in latencies:
        fault.steps = tuple(steps)
    return "-steps-" + "-".join(f"{ms}ms" for _, ms in steps)


def parse_flap(f: ChaosFlags, faults: list[Fault]) -> Flap | None:
    """``--flap ON/OFF`` for the faults of this command."""
    if f.flap is None:
        return None
    if not faults:
        raise UsageError("--flap applies to the faults of this command: give at least one fault too")
    try:
        return Flap.parse(f.flap)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def parse_window(f: ChaosFlags, faults: list[Fault], flap: Flap | None, fault_s: float) -> tuple[Window, str]:
    """``--at`` and ``--for``: when, inside the fault phase, the faults of this command are in force."""
    if f.fault_at is None and f.fault_for is None:
        return Window(flap=flap), ""
    if not faults:
        raise UsageError("--at and --for apply to the faults of this command: give at least one fault too")
    try:
        at = parse_duration(f.fault_at) if f.fault_at is not None else 0.0
        lasts = parse_duration(f.fault_for) if f.fault_for is not None else None
    except DurationError as exc:
        raise UsageError(f"--at/--for: {exc}") from None
    if not 0 <= at < fault_s:
        raise UsageError(f"--at {f.fault_at}: must fall inside the {fault_s:g} s fault phase")
    if lasts is not None and (lasts < 0.2 or at + lasts > fault_s + 1e-9):
        raise UsageError(f"--for {f.fault_for}: at least 200ms, and ending inside the {fault_s:g} s fault phase "
                         f"(it starts at +{at:g}s)")
    label = (f"-at-{f.fault_at}" if f.fault_at is not None else "") + (
        f"-for-{f.fault_for}" if f.fault_for is not None else "")
    return Window(at, lasts, flap), label


def parse_fault_groups(f: ChaosFlags, fault_s: float) -> tuple[list[Fault], str]:
    """Every fault of the run, each with its window, and the run's label.

    The command's own flags are one group; an experiment file makes one group
    per fault, so several faults of one kind, each on its own schedule, keep
    their own settings instead of collapsing into one flag.
    """
    faults: list[Fault] = []
    labels: list[str] = []
    for group in (f, *f.more_faults):
        mine, label = parse_faults(group)
        label += parse_ramp(group, mine)
        flap = parse_flap(group, mine)
        if flap is not None:
            label += f"-flap-{flap.on_s:g}s-{flap.off_s:g}s"
        label += parse_steps(group, mine, fault_s)
        window, when = parse_window(group, mine, flap, fault_s)
        for fault in mine:
            fault.window = window
        faults += mine
        if mine:
            labels.append(label + when)
    number_slots(faults)
    check_held_settings(faults, fault_s)
    return faults, "+".join(labels) or "no-fault"


def number_slots(faults: list[Fault]) -> None:
    """A second fault of one kind on one proxy gets slot 2 (and so on), so its toxic has a name of its own."""
    seen: Counter[tuple[str, str]] = Counter()
    for fault in faults:
        key = (type(fault).__name__, fault.proxy)
        seen[key] += 1
        fault.slot = str(seen[key]) if seen[key] > 1 else ""


def check_held_settings(faults: list[Fault], fault_s: float) -> None:
    """Two faults that set the same one-valued setting (a proxy's enabled flag, a stand-in's error mode)
    may not be in force at once: the second would overwrite the first, and the first's rollback end the second."""
    for i, a in enumerate(faults):
        for b in faults[i + 1:]:
            if not a.holds or (a.proxy, a.holds) != (b.proxy, b.holds):
                continue
            (a0, a1), (b0, b1) = a.window.bounds(0.0, fault_s), b.window.bounds(0.0, fault_s)
            if a0 < b1 and b0 < a1:
                raise UsageError(f"{a.describe()} and {b.describe()} overlap in time, and both set {a.proxy}'s "
                                 f"{a.holds}, which holds one value at a time: give them windows that do not "
                                 "overlap (at and for)")


def parse_phases(f: ChaosFlags) -> tuple[tuple[float, float, float], float]:
    """Phase lengths (baseline, fault, recovery) and the alarm period, in seconds."""
    defaults = QUICK_PHASES if f.quick else DESIGN_PHASES
    try:
        phases = (
            parse_duration(f.baseline) if f.baseline else defaults[0],
            parse_duration(f.fault) if f.fault else defaults[1],
            parse_duration(f.recovery) if f.recovery else defaults[2],
        )
        period = parse_duration(f.alarm_period) if f.alarm_period else (2.0 if f.quick else 60.0)
    except (DurationError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    if any(p <= 0 for p in phases) or sum(phases) > MAX_RUN_S:
        raise UsageError("phase lengths must be above 0 and add up to at most 1h")
    if period <= 0:
        raise UsageError("--alarm-period must be above 0")
    return phases, period


def parse_scenarios(f: ChaosFlags) -> list[str]:
    """The scenario list; an arrival rate implies the open-model scenario."""
    scenarios = [s.strip() for s in f.scenario.split(",") if s.strip()]
    known = scenario_classes()
    unknown = [s for s in scenarios if s not in known]
    if not scenarios or unknown:
        raise UsageError(f"--scenario: unknown {', '.join(unknown) or 'empty'}; "
                         f"choose from {', '.join(known)}")
    if f.arrival_rate is not None:
        if f.arrival_rate <= 0:
            raise UsageError("--arrival-rate must be above 0")
        if "open" not in scenarios:
            scenarios = ["open"] if scenarios == ["chat"] else [*scenarios, "open"]
    return scenarios


def check_sizes(f: ChaosFlags) -> int:
    """Validate variant, users, workers and seed; return the user count."""
    if (problem := variant_problem(f.variant)) is not None:
        raise UsageError(problem)
    users = f.users if f.users is not None else (QUICK_USERS if f.quick else 10)
    if not 1 <= users <= MAX_USERS:
        raise UsageError(f"--users must be between 1 and {MAX_USERS}")
    if not 0 <= f.workers <= MAX_WORKERS:
        raise UsageError(f"--workers must be between 0 and {MAX_WORKERS}")
    if f.seed is not None and not 0 <= f.seed < 2**31:
        raise UsageError("--seed must be between 0 and 2147483647")
    return users


def check_repeat(f: ChaosFlags) -> None:
    """``--repeat N``: within bounds, and not with ``--experiment``."""
    if not 1 <= f.repeat <= MAX_REPEAT:
        raise UsageError(f"--repeat must be between 1 and {MAX_REPEAT}")
    if f.repeat > 1 and f.experiment is not None:
        # An experiment's verdict includes its expectations, judged on one run directory;
        # a repeated series has no single one to judge yet.
        raise UsageError("--repeat with --experiment is not supported yet; run the experiment N times")


def load_slo_flag(path: Path | None) -> Slo:
    """The SLO file, loaded and validated: a typo must not cost a whole run."""
    if path is not None and path.is_dir():
        raise UsageError(f"--slo {path}: is a directory; give a YAML or JSON file")
    if path is not None and not path.is_file():
        raise UsageError(f"--slo {path}: no such file")
    try:
        return load_slo(path)
    except SloError as exc:
        raise UsageError(str(exc)) from None


def check_endpoints(f: ChaosFlags, has_faults: bool) -> tuple[str | None, str | None]:
    """``--target`` and ``--toxiproxy``, normalised; only loopback addresses are accepted."""
    target, toxiproxy = f.target, f.toxiproxy
    try:
        if target:
            target = require_loopback(target, "--target")
            if has_faults and not toxiproxy:
                raise UsageError("--target with a fault needs --toxiproxy URL (its proxies: dynamodb, redis, llm)")
        if toxiproxy:
            toxiproxy = require_loopback(toxiproxy, "--toxiproxy")
    except AddressError as exc:
        raise UsageError(str(exc)) from None
    return target, toxiproxy


def breaker_timings(f: ChaosFlags, target: str | None) -> BreakerTimings:
    """The breaker timings the checks judge against: --quick's, or the target's own."""
    timings = QUICK if f.quick else DESIGN
    try:
        flagged = parse_breaker_flag(f.breaker) if f.breaker is not None else None
        if target:
            return breaker_of_target(target, flagged, timings)
    except TargetError as exc:
        raise UsageError(str(exc)) from None
    if flagged is not None:
        raise UsageError("--breaker describes a --target's breaker; the embedded stack's follows --quick")
    return timings


def unfireable_alarms(slo: Slo, period: float, fault_s: float) -> dict[str, str]:
    """Alarms whose shortest breach (datapoints_to_alarm x period) is longer than the fault phase."""
    out: dict[str, str] = {}
    for name in ("dynamodb_latency", "circuit_open", "stateless"):
        need = int(slo.get("alarms", name, "datapoints_to_alarm")) * period
        if need > fault_s:
            out[name] = f"it needs {need:g} s of breach but the fault phase lasts {fault_s:g} s"
    return out


def build_options(f: ChaosFlags) -> tuple[ChaosOptions, Slo]:
    """Every flag checked, in the order a user would fix them; raises :class:`UsageError`."""
    users = check_sizes(f)
    scenarios = parse_scenarios(f)
    slo = load_slo_flag(f.slo)
    phases, period = parse_phases(f)
    faults, label = parse_fault_groups(f, phases[1])
    target, toxiproxy = check_endpoints(f, bool(faults))
    timings = breaker_timings(f, target)
    check_repeat(f)
    drain = slo.f("durability", "drain_timeout_s")
    opts = ChaosOptions(
        faults=faults, fault_label=label, variant=f.variant, scenarios=scenarios,
        users=users, arrival_rate=f.arrival_rate, phases=phases,
        breaker=timings, alarm_period_s=period, slo_path=f.slo,
        report_dir=f.report_dir, target=target, toxiproxy_url=toxiproxy, workers=f.workers, quick=f.quick,
        home=f.home.resolve() if f.home else None,
        external_events=f.service_events, external_dynamodb=f.dynamodb_url,
        think_time_s=QUICK_THINK_S if f.quick else None,
        drain_timeout_s=min(20.0, drain) if f.quick else drain,
        abort_window_s=slo.f("requests", "abort_window_s"),
        abort_min_requests=int(slo.f("requests", "abort_min_requests")),
    )
    if f.seed is not None:
        opts.seed = f.seed
    return opts, slo
