"""The ``harness compare`` command: parse and validate flags, compare, print, exit with the verdict.

Exit codes: 0 no regression (no change or improvement), 1 a regression,
3 inconclusive (too few samples to decide anything user-facing), 2 usage error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

FORMATS = ("md", "json", "html")
UNITS = ("auto", "runs", "blocks", "requests")


def parse_share(text: str, flag: str, upper: float = 1.0) -> float:
    """``5%`` or ``0.05`` -> 0.05; anything outside [0, upper) is a usage error."""
    t = text.strip()
    try:
        value = float(t[:-1]) / 100.0 if t.endswith("%") else float(t)
    except ValueError:
        raise typer.BadParameter(f"{flag} takes a share like 5% or 0.05, not {text!r}") from None
    if not 0 <= value < upper or value != value:
        raise typer.BadParameter(f"{flag} must be at least 0 and below {upper:.0%}")
    return value


def _usage(message: str) -> typer.Exit:
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(2)


def compare(
    base: Annotated[Path, typer.Argument(help="BASE: a run directory, or a directory of repetitions")],
    new: Annotated[Path, typer.Argument(help="NEW: a run directory, or a directory of repetitions")],
    alpha: Annotated[float, typer.Option(help="Significance level, family-wise over all metrics (Holm)")] = 0.05,
    min_effect: Annotated[str, typer.Option(help="Smallest relative change called a regression, e.g. 5%")] = "5%",
    fmt: Annotated[str, typer.Option("--format", help="md, json or html")] = "md",
    output: Annotated[Path | None, typer.Option(help="Write the report here instead of stdout")] = None,
    unit: Annotated[str, typer.Option(help="Bootstrap unit: auto (runs at >= 5 a side, else 1 s blocks), runs, "
                                           "blocks or requests")] = "auto",
    noise_floor: Annotated[str, typer.Option(
        help="Smallest effect called with fewer than 5 runs a side (default measured by A/A runs)")] = "400%",
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples")] = 2000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed (the result is reproducible for a seed)")] = 0,
) -> None:
    """Did NEW make the memory layer slower or less resilient than BASE? With confidence intervals and tests."""
    # numpy, pandas and scipy load only when the command runs, so `harness --help` stays fast.
    from harness.compare.engine import Options, compare_samples
    from harness.compare.runs import CompareInputError, load_sides

    if fmt not in FORMATS:
        raise _usage(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if unit not in UNITS:
        raise _usage(f"--unit must be one of {', '.join(UNITS)}, not {unit!r}")
    if not 0 < alpha < 1:
        raise _usage("--alpha must be between 0 and 1")
    if resamples < 100:
        raise _usage("--resamples must be at least 100")
    try:
        opt = Options(alpha=alpha, min_effect=parse_share(min_effect, "--min-effect"), unit=unit,  # type: ignore[arg-type]
                      resamples=resamples, seed=seed, noise_floor=parse_share(noise_floor, "--noise-floor", 100.0))
        base_runs, new_runs = load_sides(base, new)
    except (typer.BadParameter, CompareInputError) as exc:
        raise _usage(str(exc)) from None
    result = compare_samples(base_runs, new_runs, opt, base_label=str(base), new_label=str(new))
    from harness.compare import render

    if fmt == "md":
        text = render.markdown(result)
    elif fmt == "json":
        text = render.to_json(result)
    else:
        text = render.html_page(result, base_runs, new_runs)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        print(f"{result.verdict}: wrote {output}", file=sys.stderr)
    else:
        print(text)
    raise typer.Exit(result.exit_code)
