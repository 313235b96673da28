"""The README's commands work as written.

Every shell command in the README's code blocks is parsed by the real parser
of the tool it calls (click for ``harness``, Locust's parser plus our plugin's
arguments for ``locust``), every flag of every ``harness`` command is
documented, and the quick start is run for real against a live stack.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
import pytest
import typer.main

from harness.cli import app
from harness.stack.net import port_in_use
from tests.delivery.helpers import REPO, check_harness_argv, compose, parse_locust_argv, shell_commands

README = (REPO / "README.md").read_text()
# Shell comments are stripped first: prose like "the design's timings" is not shell syntax.
BLOCKS = [
    "\n".join(re.sub(r"(^|\s+)#.*$", "", line) for line in block.splitlines())
    for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S)
]
SCENARIO_CLASSES = {"ChatUser", "WebSocketRefreshUser", "OpenArrivalUser", "ZipfReturningUser"}


def readme_commands() -> list[list[str]]:
    return [argv for block in BLOCKS for argv in shell_commands(block)]


def test_readme_has_the_two_setup_commands_and_ci_runs_the_test_one() -> None:
    setup = BLOCKS[0]
    assert "pip install -e . && harness chaos --quick --dynamo-latency 2s" in setup
    assert "pip install -e '.[test]' && python -m pytest" in setup
    ci = (REPO / ".ci" / "run").read_text()
    assert "\npip install -e '.[test]' && python -m pytest\n" in ci


def test_every_command_in_the_readme_parses() -> None:
    extras = set(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    seen = set()
    for argv in readme_commands():
        tool = argv[0]
        seen.add(tool)
        if tool == "harness":
            check_harness_argv(argv)
        elif tool == "locust":
            parse_locust_argv(argv)
            classes = [a for a in argv if a in SCENARIO_CLASSES or re.fullmatch(r"[A-Z]\w+User", a)]
            assert set(classes) <= SCENARIO_CLASSES, classes
            assert "scenarios/" in argv
        elif tool == "pip":
            assert argv[1:3] == ["install", "-e"], argv
            target = argv[3]
            match = re.fullmatch(r"\.(?:\[(\w+)\])?", target)
            assert match, target
            assert match.group(1) is None or match.group(1) in extras
        elif tool == "python":
            assert argv[1:3] == ["-m", "pytest"], argv
        elif tool == "docker":
            assert argv[1] == "compose"
            if "--scale" in argv:
                service = argv[argv.index("--scale") + 1].split("=")[0]
                assert service in compose()["services"]
        elif tool == "curl":
            assert any("localhost:8000/chat" in a for a in argv)
        else:
            pytest.fail(f"README runs an unknown tool: {argv}")
    assert {"harness", "locust", "pip", "python"} <= seen


def test_every_harness_command_and_flag_is_documented() -> None:
    group = typer.main.get_command(app)
    ctx = group.context_class(group, info_name="harness")
    for name in group.list_commands(ctx):
        assert f"harness {name}" in README, name
        command = group.get_command(ctx, name)
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("--") and opt not in ("--help", "--home", "--json"):
                    assert opt in README, f"harness {name} {opt} is not in the README"


@pytest.mark.slow
@pytest.mark.skipif(
    port_in_use("127.0.0.1", 8000) or port_in_use("127.0.0.1", 8474), reason="the quick start's default ports are busy"
)
def test_quick_start_runs_as_written(tmp_path: Path) -> None:
    """`harness up`, `status`, the two curl turns, the Locust line and `harness down`, verbatim."""
    env = {**os.environ, "HARNESS_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    quick = next(b for b in BLOCKS if "harness up" in b)
    commands = shell_commands(quick)

    def run(argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)

    up = run(next(a for a in commands if a[:2] == ["harness", "up"]))
    try:
        assert up.returncode == 0, up.stderr
        assert run(["harness", "status"]).returncode == 0
        jar: dict[str, str] = {}
        with httpx.Client(base_url="http://localhost:8000") as client:
            first = client.post("/chat", json={"message": "Recommend dark fantasy manga for beginners"})
            jar.update(first.cookies)
            second = client.post("/chat", json={"message": "What about the second one?"},
                                 headers={"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())})
        assert "Vinland Saga" in second.json()["response"]
        locust = next(a for a in commands if a[0] == "locust")
        result = run([sys.executable, "-m", *locust, "--record-dir", str(tmp_path / "records")], timeout=120)
        records = [json.loads(r) for r in (tmp_path / "records" / "records.jsonl").read_text().splitlines()]
        assert records and all(r["verdict"] != "wrong" for r in records)
        # Requests cut off by `-t` are recorded as timeouts (every request counts), and
        # Locust exits 1 on any failure; nothing else may fail.
        failures = [r for r in records if r.get("error")]
        assert all("in flight when the load stopped" in r["error"] for r in failures), failures[:3]
        assert result.returncode == (1 if failures else 0), result.stderr[-2000:]
    finally:
        down = run(["harness", "down"])
    assert down.returncode == 0 and "stopped" in down.stderr
