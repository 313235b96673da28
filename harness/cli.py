"""The ``harness`` command.

Thin on purpose: each command parses and validates its flags, then calls one
function in the package that does the work, so every behaviour the CLI offers
is also reachable (and tested) from Python.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness.compare.cli import compare as compare_command
from harness.project.cli import project as project_command
from harness.stack import lifecycle
from harness.stack.procs import ComponentError
from harness.state import StateError, harness_home

if TYPE_CHECKING:
    from harness.chaos.experiment import Experiment
    from harness.chaos.flags import ChaosFlags
    from harness.chaos.runner import ChaosOptions

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Load-testing and chaos harness for a chatbot's conversation-memory design.",
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console()

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", help="Stack directory (state file, logs). Default: $HARNESS_HOME or ./.harness"),
]


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a one-line error and exit."""
    err.print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _home(home: Path | None) -> Path:
    return home.resolve() if home else harness_home()


@app.command()
def up(
    variant: Annotated[str, typer.Option(help="Reference service variant: seed or hardened")] = "hardened",
    home: HomeOpt = None,
    service_port: Annotated[int, typer.Option(help="Service port on 127.0.0.1 (0 = any free port)")] = 8000,
    toxiproxy_port: Annotated[int, typer.Option(help="Toxiproxy API port (0 = any free port)")] = 8474,
    dynamodb_url: Annotated[
        str | None, typer.Option(help="Use this DynamoDB endpoint [env HARNESS_DYNAMODB_URL]")
    ] = None,
    redis_url: Annotated[str | None, typer.Option(help="Use this Redis [env HARNESS_REDIS_URL]")] = None,
    llm_url: Annotated[str | None, typer.Option(help="Use this Messages API base URL [env HARNESS_LLM_URL]")] = None,
    toxiproxy_url: Annotated[
        str | None, typer.Option(help="Use this Toxiproxy API [env HARNESS_TOXIPROXY_URL]")
    ] = None,
    real_llm: Annotated[bool, typer.Option(help="Call the real Anthropic API (needs ANTHROPIC_API_KEY)")] = False,
    breaker_open: Annotated[str, typer.Option(help="Breaker open time, e.g. 30s")] = "30s",
    breaker_window: Annotated[str, typer.Option(help="Breaker failure window, e.g. 10s")] = "10s",
    json_out: Annotated[bool, typer.Option("--json", help="Print the state as JSON")] = False,
) -> None:
    """Start DynamoDB, Redis and the LLM behind Toxiproxy, plus the reference service."""
    import dataclasses

    from harness.breaker_timings import DESIGN
    from harness.durations import DurationError, parse_duration

    for port, flag in ((service_port, "--service-port"), (toxiproxy_port, "--toxiproxy-port")):
        if not 0 <= port <= 65535:
            fail(f"{flag} must be between 0 and 65535", 2)
    try:
        breaker = dataclasses.replace(DESIGN, open_s=parse_duration(breaker_open),
                                      window_s=parse_duration(breaker_window))
    except DurationError as exc:
        fail(str(exc), 2)
    opts = lifecycle.UpOptions(
        variant=variant, home=_home(home), service_port=service_port, toxiproxy_port=toxiproxy_port,
        dynamodb_url=dynamodb_url, redis_url=redis_url, llm_url=llm_url, toxiproxy_url=toxiproxy_url,
        real_llm=real_llm, breaker=breaker,
    )
    try:
        state = lifecycle.up(opts, err)
    except lifecycle.OptionError as exc:  # the variant: lifecycle.up checks it before touching anything
        fail(str(exc), 2)
    except (ComponentError, lifecycle.StackError, StateError) as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted; everything started was stopped", 130)
    if json_out:
        print(json.dumps(state.to_json(), indent=2))
        return
    table = Table(title=f"stack up ({variant}) — state in {opts.home / 'state.json'}")
    for col in ("component", "backend", "address", "via proxy", "pid"):
        table.add_column(col)
    for name, info in state.components.items():
        table.add_row(name, escape(info.backend), info.url, info.proxy_url or "-", str(info.pid or "-"))
    out.print(table)


@app.command()
def status(
    home: HomeOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Show each component's health and the toxics currently active."""
    try:
        info = lifecycle.status(_home(home))
    except StateError as exc:
        fail(str(exc))
    if json_out:
        print(json.dumps(info.to_json(), indent=2))
        raise typer.Exit(info.exit_code)
    if not info.running:
        err.print(f"no stack running in {info.home} (start one with `harness up`)")
        raise typer.Exit(info.exit_code)
    table = Table(title=f"stack ({info.variant}) in {info.home}")
    for col in ("component", "backend", "url", "via proxy", "pid", "health"):
        table.add_column(col)
    for name, comp in info.components.items():
        healthy = "[green]ok[/]" if comp.healthy else "[red]down[/]"
        table.add_row(name, escape(comp.backend), comp.url, comp.proxy_url or "-", str(comp.pid or "-"), healthy)
    out.print(table)
    if info.proxies_error is not None:
        out.print(f"[red]toxiproxy:[/] {escape(info.proxies_error)}")
        raise typer.Exit(info.exit_code)
    toxics = Table(title="proxies and active toxics")
    for col in ("proxy", "enabled", "listen", "upstream", "toxics"):
        toxics.add_column(col)
    for name, proxy in info.proxies.items():
        desc = ", ".join(
            f"{t['name']} ({t['type']} {t['stream']} {json.dumps(t.get('attributes', {}))})"
            for t in proxy.toxics
        ) or "none"
        toxics.add_row(name, str(proxy.enabled), proxy.listen, proxy.upstream, desc)
    out.print(toxics)


@app.command()
def down(home: HomeOpt = None) -> None:
    """Stop everything `harness up` started. Safe to run twice."""
    try:
        stopped = lifecycle.down(_home(home))
    except StateError as exc:
        fail(str(exc))
    if stopped:
        err.print(f"stopped: {', '.join(stopped)}")
    else:
        err.print("nothing running")


CHAOS_EPILOG = (
    "Fault model: each fault has a target (dynamodb, redis, llm), a kind and its parameters. "
    "Network kinds go through the target's Toxiproxy proxy (latency, down, blackhole and the --toxic "
    "stream kinds); API-level kinds are the dependency's own answers (DynamoDB throttling, 500s and "
    "held calls from the DynamoDB stand-in, LLM 429/529 from the LLM stand-in, Redis READONLY and an "
    "emptied Redis on a redis-server the harness started). Every flag above is shorthand for one fault; "
    "--toxicity, --stream, --at, --for, --flap, --ramp and --steps apply to the faults given with them. "
    "\n\nExperiment files (--experiment FILE.yaml) declare the same model: name, description, variant, "
    "quick, load {scenarios, users, arrival_rate, seed}, phases {baseline, fault, recovery}, faults [{target, "
    "kind, ..., and its own at, for, flap, ramp, steps, toxicity}], schedule {the same, for every fault}, "
    "slo overrides and expect [{check, outcome | min | max, variant}]. Any number of faults, of one kind or "
    "many, each on its own schedule. They are validated against harness/chaos/experiment.schema.json before "
    "anything starts; experiments/ holds a library and README.md a complete annotated example."
)


@app.command(epilog=CHAOS_EPILOG)
def chaos(
    dynamo_latency: Annotated[str | None, typer.Option(help="Latency added to DynamoDB replies, e.g. 2s")] = None,
    dynamo_jitter: Annotated[str | None, typer.Option(help="± jitter on the DynamoDB latency, e.g. 500ms")] = None,
    dynamo_down: Annotated[bool, typer.Option("--dynamo-down", help="Take DynamoDB away (proxy disabled)")] = False,
    redis_latency: Annotated[str | None, typer.Option(help="Latency added to Redis replies, e.g. 300ms")] = None,
    redis_jitter: Annotated[str | None, typer.Option(help="± jitter on the Redis latency, e.g. 100ms")] = None,
    redis_down: Annotated[bool, typer.Option("--redis-down", help="Take Redis away (proxy disabled)")] = False,
    dynamo_blackhole: Annotated[bool, typer.Option(
        "--dynamo-blackhole", help="DynamoDB accepts connections and never answers (timeout toxic)")] = False,
    redis_blackhole: Annotated[bool, typer.Option(
        "--redis-blackhole", help="Redis accepts connections and never answers (timeout toxic)")] = False,
    redis_readonly: Annotated[bool, typer.Option(
        "--redis-readonly", help="Redis refuses writes with READONLY, as a demoted replica does (embedded "
        "redis-server only)")] = False,
    redis_flush: Annotated[bool, typer.Option(
        "--redis-flush", help="Redis comes back empty (FLUSHALL at the fault's start), as a node restarted "
        "without persistence; with --dynamo-down it drives the design to level 2, stateless (a Redis the "
        "harness started only)")] = False,
    toxic: Annotated[list[str] | None, typer.Option(
        "--toxic", help="A stream fault TARGET:KIND, optionally =VALUE and @upstream or @downstream; "
        "repeatable. KIND reset_peer (ms before the RST, default 0), bandwidth (KB/s), slicer (bytes per "
        "fragment) or limit_data (bytes), e.g. "
        "dynamodb:reset_peer or redis:bandwidth=5")] = None,
    dynamo_timeouts: Annotated[str | None, typer.Option(
        help="Intermittent DynamoDB timeouts N/WINDOW: the first N calls of every window are held 1 s "
        "(past the breaker's timeout), e.g. 3/10s (embedded stand-in only)")] = None,
    dynamo_throttle: Annotated[str | None, typer.Option(
        help="Share of DynamoDB calls answered ProvisionedThroughputExceededException (400), e.g. 20%")] = None,
    dynamo_throttle_code: Annotated[str | None, typer.Option(
        help="The error --dynamo-throttle answers: ProvisionedThroughputExceededException (default) or "
        "ThrottlingException")] = None,
    dynamo_errors: Annotated[str | None, typer.Option(
        help="Share of DynamoDB calls answered InternalServerError (500), e.g. 5%")] = None,
    flap: Annotated[str | None, typer.Option(
        help="Faults on for ON, off for OFF, repeated through the fault phase, e.g. 2s/3s")] = None,
    ramp: Annotated[str | None, typer.Option(
        help="Latency faults rise linearly FROM..TO over the fault phase, e.g. 0ms..2s")] = None,
    steps: Annotated[str | None, typer.Option(
        help="Latency faults move to each LATENCY at each TIME into the fault phase, e.g. 4s=500ms,8s=2s")] = None,
    fault_at: Annotated[str | None, typer.Option(
        "--at", help="The faults start this far into the fault phase, e.g. 4s (default at its start)")] = None,
    fault_for: Annotated[str | None, typer.Option(
        "--for", help="The faults last this long, e.g. 6s (default to the fault phase's end)")] = None,
    stream: Annotated[str | None, typer.Option(
        help="The link the latency and blackhole faults act on: upstream (requests; a blackhole's default) or "
        "downstream (answers; a latency's default)")] = None,
    toxicity: Annotated[str | None, typer.Option(
        help="Share of connections the latency, blackhole and --toxic faults affect, e.g. 30% or 0.3 "
        "(default all)")] = None,
    llm_latency: Annotated[str | None, typer.Option(help="Latency added to LLM replies, e.g. 2s")] = None,
    llm_jitter: Annotated[str | None, typer.Option(help="± jitter on the LLM latency, e.g. 500ms")] = None,
    llm_errors: Annotated[str | None, typer.Option(help="Share of LLM calls that fail (529), e.g. 30% or 0.3")] = None,
    llm_throttle: Annotated[str | None, typer.Option(
        help="Share of LLM calls answered 429 rate_limit_error (with retry-after), e.g. 20%")] = None,
    users: Annotated[int | None, typer.Option(help="Concurrent Locust users (default 10; --quick 20)")] = None,
    arrival_rate: Annotated[float | None, typer.Option(help="Open-model arrivals: new sessions per second")] = None,
    scenario: Annotated[str, typer.Option(help="Scenarios, comma-separated: chat, websocket, open, zipf")] = "chat",
    variant: Annotated[str, typer.Option(help="Reference service variant: seed or hardened")] = "hardened",
    baseline: Annotated[str | None, typer.Option(help="Baseline phase length (default 40s; --quick 8s)")] = None,
    fault: Annotated[str | None, typer.Option(help="Fault phase length (default 60s; --quick 14s)")] = None,
    recovery: Annotated[str | None, typer.Option(help="Recovery phase length (default 40s; --quick 10s)")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Compressed timings, 32 s of load")] = False,
    alarm_period: Annotated[str | None, typer.Option(help="CloudWatch alarm period (default 60s; --quick 2s)")] = None,
    slo: Annotated[Path | None, typer.Option(help="SLO file (YAML or JSON) overriding the design's targets")] = None,
    report_dir: Annotated[Path, typer.Option(help="Where run directories are written")] = Path("reports"),
    target: Annotated[str | None, typer.Option(help="Drive this service instead of the embedded stack")] = None,
    toxiproxy: Annotated[
        str | None, typer.Option(help="Toxiproxy API for --target (proxies dynamodb, redis, llm)")
    ] = None,
    workers: Annotated[int, typer.Option(help="Run Locust as a master plus N worker processes")] = 0,
    service_events: Annotated[
        Path | None, typer.Option(help="With --target: the service's JSON-lines event log, for the analyzers")
    ] = None,
    dynamodb_url: Annotated[
        str | None, typer.Option(help="With --target: DynamoDB endpoint to scan ChatSessions from after recovery")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for every user's script choices (default: random, printed)")]
    = None,
    breaker: Annotated[
        str | None,
        typer.Option(help="With --target: the breaker's timings, e.g. threshold=5,window=10s,open=30s,timeout=200ms "
                          "(default: read from the target's /debug/memory)"),
    ] = None,
    experiment: Annotated[Path | None, typer.Option(
        help="Run a declared experiment (YAML: faults, schedule, load, phases, SLO, expectations)")] = None,
    repeat: Annotated[int, typer.Option(
        help="Run the experiment N times (seeds N apart) into one directory, and report the spread")] = 1,
    home: HomeOpt = None,
) -> None:
    """Run baseline → fault → recovery under load, analyze the run and write reports."""
    from harness.chaos.flags import ChaosFlags, UsageError, build_options, unfireable_alarms
    from harness.chaos.runner import ChaosRun

    flags = ChaosFlags(
        dynamo_latency=dynamo_latency, dynamo_jitter=dynamo_jitter, dynamo_down=dynamo_down,
        redis_latency=redis_latency, redis_jitter=redis_jitter, redis_down=redis_down, llm_latency=llm_latency,
        llm_jitter=llm_jitter, llm_errors=llm_errors, llm_throttle=llm_throttle,
        dynamo_throttle_code=dynamo_throttle_code, stream=stream, fault_at=fault_at,
        fault_for=fault_for,
        dynamo_blackhole=dynamo_blackhole, redis_blackhole=redis_blackhole, toxicity=toxicity,
        redis_readonly=redis_readonly, redis_flush=redis_flush, toxic=tuple(toxic or ()),
        dynamo_throttle=dynamo_throttle,
        dynamo_errors=dynamo_errors, dynamo_timeouts=dynamo_timeouts, flap=flap, ramp=ramp,
        steps=steps,
        users=users, arrival_rate=arrival_rate, scenario=scenario, variant=variant, baseline=baseline,
        fault=fault, recovery=recovery, quick=quick, alarm_period=alarm_period, slo=slo, report_dir=report_dir,
        target=target, toxiproxy=toxiproxy, workers=workers, service_events=service_events,
        dynamodb_url=dynamodb_url, seed=seed, breaker=breaker, home=home, experiment=experiment, repeat=repeat,
    )
    declared = None
    try:
        if experiment is not None:
            declared, flags = _experiment_flags(experiment, flags)
        opts, slo_obj = build_options(flags)
    except UsageError as exc:
        fail(str(exc), 2)
    for name, why in unfireable_alarms(slo_obj, opts.alarm_period_s, opts.phases[1]).items():
        err.print(f"[yellow]warning: alarm {name} cannot fire in this run: {why}[/]", soft_wrap=True)
    if flags.repeat > 1:
        _chaos_repeated(opts, flags.repeat)
    try:
        result = ChaosRun(opts, err).execute()
    except (ComponentError, lifecycle.StackError, StateError) as exc:
        fail(str(exc))
    except RuntimeError as exc:
        fail(str(exc))
    if result.summary:
        print("\n" + result.summary)  # plain: Markdown table rows must not be wrapped at the terminal width
    err.print(f"reports: {result.run_dir}")
    err.print(result.headline, markup=False, highlight=False, soft_wrap=True)
    for message in result.rollback_errors:
        err.print(f"[bold red]{message}[/]")
    if declared is not None:
        raise typer.Exit(_judge_experiment(declared, result.run_dir, result.exit_code, opts.variant))
    raise typer.Exit(result.exit_code)


def _experiment_flags(path: Path, cli: ChaosFlags) -> tuple[Experiment, ChaosFlags]:
    from harness.chaos.experiment import ExperimentError, load_experiment
    from harness.chaos.flags import UsageError, with_experiment

    try:
        declared = load_experiment(path, cli.report_dir)
    except ExperimentError as exc:
        raise UsageError(str(exc)) from None
    return declared, with_experiment(cli, declared.flags)


def _judge_experiment(declared: Experiment, run_dir: Path, run_exit: int, variant: str) -> int:
    from harness.chaos.experiment import judge

    code, results = judge(declared, run_dir, run_exit, variant)
    for r in results:
        mark = {True: "met", False: "NOT MET", None: "undecided"}[r.met]
        e = r.expectation
        want = e.outcome or ""
        want += "" if e.max is None else f" <= {e.max:g}"
        want += "" if e.min is None else f" >= {e.min:g}"
        err.print(f"expect {e.check} {want.strip()}: {mark} ({r.seen})", markup=False, highlight=False)
    err.print(f"experiment {declared.name}: exit {code}", markup=False)
    return code


def _chaos_repeated(opts: ChaosOptions, n: int) -> None:
    from harness.chaos.repeat import run_repeated

    try:
        series = run_repeated(opts, n, err)
    except (ComponentError, lifecycle.StackError, StateError, RuntimeError) as exc:
        fail(str(exc))
    print("\n" + series.summary)
    err.print(f"repetitions: {series.directory}")
    raise typer.Exit(series.exit_code)


@app.command()
def analyze(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory (reports/<run-id>)")],
    slo: Annotated[Path | None, typer.Option(help="SLO file overriding the design's targets")] = None,
) -> None:
    """Re-run every analyzer on a finished run and rewrite its reports."""
    from harness.analyzers import analyze_run
    from harness.report import write_reports
    from harness.slo import load_slo

    if not (run_dir / "run.json").is_file():
        fail(f"{run_dir} is not a run directory (no run.json)", 2)
    if slo is not None and not slo.is_file():
        fail(f"--slo {slo}: no such file", 2)
    try:
        verdict = analyze_run(run_dir, load_slo(slo))
    except ValueError as exc:
        fail(str(exc), 2)
    paths = write_reports(run_dir, verdict)
    summary = paths.get("summary")
    if summary:
        print(Path(summary).read_text())
    missing = {k: v for k, v in verdict.run.get("missing_files", {}).items() if k != "taps/dynamodb.jsonl"}
    if missing:
        err.print("missing evidence: " + "; ".join(missing.values()), markup=False, highlight=False,
                  soft_wrap=True)
    err.print(verdict.headline(), markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(verdict.exit_code)


@app.command("toxiproxy-server")
def toxiproxy_server(
    host: Annotated[str, typer.Option(help="API listen address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="API port")] = 8474,
    config: Annotated[Path | None, typer.Option(help="JSON array of proxies, as /populate takes")] = None,
) -> None:
    """Run the Toxiproxy-compatible server in the foreground."""
    from harness.toxiproxy import serve

    if config is not None and not config.is_file():
        fail(f"--config {config}: no such file", 2)
    serve(host, port, config)


app.command("compare")(compare_command)
app.command("project")(project_command)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
