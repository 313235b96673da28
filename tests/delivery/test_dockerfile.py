"""The Dockerfile and .dockerignore, checked without a Docker engine.

Why: an image that builds but cannot start its command is found only when
somebody runs compose. So every instruction is read and held against the
project: what it copies exists and survives .dockerignore, what it runs exists,
and the package that ``pip install .`` would build from exactly that context
contains every module the compose commands start and the data files they read.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from tests.delivery import helpers as h


def _instructions() -> list[tuple[str, str]]:
    return h.dockerfile_instructions()


def _copies() -> list[tuple[list[str], str]]:
    result = []
    for word, args in _instructions():
        if word in ("COPY", "ADD"):
            parts = [p for p in h.exec_form(args) if not p.startswith("--")]
            result.append((parts[:-1], parts[-1]))
    return result


def _workdir() -> str:
    dirs = [args for word, args in _instructions() if word == "WORKDIR"]
    assert dirs, "the Dockerfile should set a WORKDIR"
    return dirs[-1]


def _env() -> dict[str, str]:
    env: dict[str, str] = {}
    for word, args in _instructions():
        if word == "ENV":
            for token in h.exec_form(args):
                key, sep, value = token.partition("=")
                assert sep, f"ENV {token}: use the KEY=value form"
                env[key] = value
    return env


def test_base_image() -> None:
    froms = [args for word, args in _instructions() if word == "FROM"]
    assert froms == ["python:3.11-slim"]


def test_copied_sources_exist_and_are_not_dockerignored() -> None:
    assert _copies()
    for sources, _dest in _copies():
        for src in sources:
            path = h.REPO / src
            assert path.exists(), f"COPY {src}: not in the project"
            assert not h.dockerignored(src.rstrip("/")), f"COPY {src}: excluded by .dockerignore"


def test_pip_install_has_what_it_needs() -> None:
    runs = [h.shell_commands(args) for word, args in _instructions() if word == "RUN"]
    commands = [argv for run in runs for argv in run]
    assert ["pip", "install", "."] in commands
    for argv in commands:
        assert argv[0] == "pip", f"RUN {argv}: only pip runs in the image build"
    copied = {Path(src.rstrip("/")).as_posix() for sources, _ in _copies() for src in sources}
    pyproject = tomllib.loads((h.REPO / "pyproject.toml").read_text())
    needed = {"pyproject.toml", pyproject["project"]["readme"]}
    needed |= {pattern.rstrip("*") for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert needed <= copied, f"pip install . needs {sorted(needed - copied)} copied first"
    install_index = next(i for i, (w, a) in enumerate(_instructions()) if w == "RUN" and "pip install ." in a)
    for i, (word, args) in enumerate(_instructions()):
        if word == "COPY" and any(p.rstrip("/") in needed for p in h.exec_form(args)[:-1]):
            assert i < install_index, f"COPY {args} must come before pip install ."


def test_scenarios_are_where_compose_and_the_harness_look() -> None:
    dests = {Path(src.rstrip("/")).name: dest for sources, dest in _copies() for src in sources}
    assert "scenarios" in dests
    workdir = Path(_workdir())
    in_image = (workdir / dests["scenarios"]).as_posix().rstrip("/")
    assert in_image == (workdir / "scenarios").as_posix(), "locust -f scenarios/ runs from the WORKDIR"
    assert _env().get("HARNESS_SCENARIOS") == in_image


def test_default_command_runs_the_service() -> None:
    cmds = [args for word, args in _instructions() if word == "CMD"]
    assert len(cmds) == 1
    argv = h.exec_form(cmds[0])
    assert cmds[0].startswith("["), "CMD in exec form, so signals reach the service"
    assert h.python_module_argv(argv) == ("reference_service", [])
    assert importlib.util.find_spec("reference_service.__main__") is not None
    assert not [a for w, a in _instructions() if w == "ENTRYPOINT"]
    env = _env()
    assert env.get("REFSVC_HOST") == "0.0.0.0"
    flags = h.module_help("reference_service")
    for key in env:
        if key.startswith("REFSVC_"):
            assert "--" + key[7:].lower().replace("_", "-") in flags


def test_exposed_ports_cover_compose() -> None:
    exposed = {int(p) for word, args in _instructions() if word == "EXPOSE" for p in args.split()}
    svcs = h.services()
    for name in ("service", "llm", "master"):
        for _host, container in h.published_ports(svcs[name]):
            assert container in exposed
    assert h.parse_config_port() in exposed
    assert int(h.flag_value(h.command(svcs["llm"]), "--port") or 0) in exposed


def test_dockerignore_keeps_local_state_out() -> None:
    for rel in (".git", ".harness", "reports/x/run.json", "tests/delivery/helpers.py", "harness/__pycache__/a.pyc"):
        assert h.dockerignored(rel), f"{rel} should not be sent to the Docker daemon"
    for rel in ("pyproject.toml", "README.md", "harness/cli.py", "reference_service/nlu/catalog.json",
                "harness/loadgen/corpus/scripts.json", "harness/slo_default.yaml", "scenarios/chat.py"):
        assert not h.dockerignored(rel), f"{rel} is needed in the image"


def _build_context(dest: Path) -> None:
    """Copy the files of the repo that survive .dockerignore, as the daemon would receive them."""
    patterns = h.dockerignore_patterns()
    for sources, _ in _copies():
        for src in sources:
            root = h.REPO / src
            files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
            for path in files:
                rel = path.relative_to(h.REPO).as_posix()
                if h.dockerignored(rel, patterns):
                    continue
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)


def test_image_package_contains_what_compose_runs(tmp_path: Path) -> None:
    """Build the wheel ``pip install .`` would install, from the filtered context; check its contents."""
    context = tmp_path / "context"
    _build_context(context)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "w"),
         str(context)],
        capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-1500:]
    wheels = list((tmp_path / "w").glob("*.whl"))
    assert len(wheels) == 1
    names = set(zipfile.ZipFile(wheels[0]).namelist())
    for data in ("reference_service/nlu/catalog.json", "harness/loadgen/corpus/scripts.json",
                 "harness/slo_default.yaml"):
        if (h.REPO / data).exists():
            assert data in names, f"{data} is missing from the installed package"
    modules = {"reference_service"}
    for svc in h.services().values():
        parsed = h.python_module_argv(h.command(svc))
        if parsed:
            modules.add(parsed[0])
    missing = []
    for module in sorted(modules):
        base = module.replace(".", "/")
        if not ({f"{base}/__main__.py", f"{base}.py"} & names):
            missing.append(module)
    assert not missing, f"modules started by compose are not in the image's package: {missing}"
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "harness = harness.cli:main" in zipfile.ZipFile(wheels[0]).read(entry_points).decode()
