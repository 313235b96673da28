"""The ``harness project`` command: fit the model from a run, simulate the scale, write reports, gate.

Exit codes: 0 every scale target met, 1 one missed (throttling, Redis memory or
an alarm expectation from the SLO file's ``scale`` section), 2 usage error.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

SUFFIX = {"": 1, "k": 1_000, "m": 1_000_000}
MODES = ("on-demand", "provisioned")


def parse_count(text: str) -> int:
    """``10000000``, ``10M``, ``250k``, ``1.5M`` -> an integer count; anything else is a usage error."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    if not m:
        raise typer.BadParameter(f"--sessions-per-day takes an integer with an optional k or M, not {text!r}")
    value = round(float(m.group(1)) * SUFFIX[m.group(2).lower()])
    if value < 1:
        raise typer.BadParameter("--sessions-per-day must be at least 1")
    return int(value)


def _usage(message: str) -> typer.Exit:
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(2)


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def project(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory (reports/<run-id>)")],
    sessions_per_day: Annotated[str, typer.Option(help="Sessions a day: an integer, or with k / M (10M)")] = "10M",
    peak_to_mean: Annotated[float, typer.Option(help="Diurnal peak rate over the day's mean rate")] = 3.0,
    days: Annotated[int, typer.Option(help="Days to simulate")] = 2,
    mode: Annotated[str, typer.Option(help="DynamoDB capacity mode: on-demand or provisioned")] = "on-demand",
    rcu: Annotated[float, typer.Option(help="With --mode provisioned: provisioned read capacity")] = 0.0,
    wcu: Annotated[float, typer.Option(help="With --mode provisioned: provisioned write capacity")] = 0.0,
    seed: Annotated[int, typer.Option(help="Simulation seed (the projection is reproducible for a seed)")] = 0,
    prices: Annotated[Path | None, typer.Option(help="Price table overriding the shipped one (JSON or YAML)")]
    = None,
    slo: Annotated[Path | None, typer.Option(help="SLO file; its `scale` section sets the gate")] = None,
    out: Annotated[Path | None, typer.Option(help="Output directory (default RUN_DIR/scale)")] = None,
) -> None:
    """Project the run's access pattern to internet scale: partitions, throttling, Redis, cost and alarms."""
    from harness.analyzers.rundata import RunDataError, load_run
    from harness.project import gate, render
    from harness.project.model import fit_model
    from harness.project.prices import PricesError, load_prices
    from harness.project.projection import project as run_projection
    from harness.project.simulate import ProjectionParams
    from harness.slo import SloError

    if mode not in MODES:
        raise _usage(f"--mode must be on-demand or provisioned, not {mode!r}")
    if mode == "provisioned" and (rcu <= 0 or wcu <= 0):
        raise _usage("--mode provisioned needs --rcu and --wcu above 0")
    if days < 1 or peak_to_mean < 1:
        raise _usage("--days must be >= 1 and --peak-to-mean >= 1")
    if not (run_dir / "run.json").is_file():
        raise _usage(f"{run_dir} is not a run directory (no run.json)")
    try:
        params = ProjectionParams(parse_count(sessions_per_day), peak_to_mean, days, mode,  # type: ignore[arg-type]
                                  seed, provisioned_rcu=rcu, provisioned_wcu=wcu)
        price_table = load_prices(prices)
        full_slo, targets = gate.load_scale_slo(slo)
        run = load_run(run_dir)
    except (typer.BadParameter, PricesError, SloError, RunDataError) as exc:
        raise _usage(str(exc)) from None
    t0 = time.perf_counter()
    model = fit_model(run)
    proj = run_projection(model, params, price_table, gate.alarm_policy(full_slo))
    proj.gate = gate.evaluate(proj, targets)
    proj.runtime = {"seconds": round(time.perf_counter() - t0, 2), "peak_rss_mb": round(_peak_rss_mb(), 1)}
    paths = render.write_outputs(proj, out or run_dir / "scale")
    if out is None and (run_dir / "report.html").is_file():
        _refresh_run_report(run_dir)
    print(render.markdown(proj))
    print(f"{'PASS' if proj.passed else 'FAIL'}: wrote {paths['json']}, {paths['md']}, {paths['html']} "
          f"({proj.runtime['seconds']} s, peak RSS {proj.runtime['peak_rss_mb']} MB)", file=sys.stderr)
    raise typer.Exit(0 if proj.passed else 1)


def _refresh_run_report(run_dir: Path) -> None:
    """Re-render the run's report.html so it carries the new scale section."""
    from harness.analyzers import analyze_run
    from harness.report.html import write_html

    write_html(run_dir / "report.html", analyze_run(run_dir))
