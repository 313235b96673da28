"""No import cycles in ``harness`` or ``reference_service``, type-only imports included.

A cycle, even one hidden behind ``TYPE_CHECKING`` or a lazy import inside a
function, means two modules cannot be understood, tested or moved apart. The
walk reads every ``import`` statement with :mod:`ast` (nothing is executed)
and fails naming the first cycle it finds.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, package: str, known: set[str]) -> set[str]:
    me = _module(path)
    base = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            origin = node.module or ""
            if node.level:
                parent = base.split(".")[: len(base.split(".")) - node.level + 1]
                origin = ".".join(parent + ([origin] if origin else []))
            # "from pkg import mod" names the module mod; "from mod import func" names mod.
            names = [f"{origin}.{a.name}" if f"{origin}.{a.name}" in known else origin for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name.startswith(package) and name != me:
                found.add(name)
    return found


@pytest.mark.parametrize("package", ["harness", "reference_service"])
def test_no_import_cycles(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    known = {_module(f) for f in files}
    graph: dict[str, set[str]] = {}
    for f in files:
        for target in _imports(f, package, known):
            graph.setdefault(_module(f), set()).add(target)
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        raise AssertionError("import cycle: " + " -> ".join(exc.args[1])) from None


def test_the_harness_never_imports_the_service_it_judges() -> None:
    """The harness talks to the service over the network only, so it judges any service the same way."""
    files = sorted((ROOT / "harness").rglob("*.py"))
    known = {_module(f) for f in (ROOT / "reference_service").rglob("*.py")}
    leaks = {_module(f): sorted(_imports(f, "reference_service", known)) for f in files}
    assert {m: t for m, t in leaks.items() if t} == {}


def test_the_cli_loads_no_analysis_stack_until_a_command_needs_it() -> None:
    """``harness --help``, ``up`` and ``status`` must not pay for scipy, matplotlib or pandas.

    They cost over a second to import on this machine; the commands that use
    them (chaos, analyze, report, compare, project) import them when they run.
    """
    import subprocess
    import sys

    heavy = ("scipy", "matplotlib", "pandas", "pyarrow", "boto3", "locust")
    probe = f"import harness.cli, sys; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "", f"importing harness.cli loaded {out.stdout.strip()}"
