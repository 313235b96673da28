"""Shared readers for the delivery tests: compose, Dockerfile, workflow, shell, CLIs.

Why: there is no Docker engine on this machine and no GitHub runner, so the
delivery files are checked by reading them the way their engines would and
holding every name, port, flag and command they contain against the project's
real parsers (click for ``harness``, Locust's own argument parser plus our
plugin's arguments, ``reference_service.config.parse_config``).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
WORKFLOW = REPO / ".github" / "workflows" / "latency-report.yml"
TOXIPROXY_CONFIG = REPO / "docker" / "toxiproxy.json"

_INTERP = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


def load_yaml(path: Path) -> Any:
    """Parse a YAML file with the safe loader."""
    return yaml.safe_load(path.read_text())


def compose() -> dict[str, Any]:
    """The compose file as a mapping."""
    data = load_yaml(COMPOSE)
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


def services() -> dict[str, dict[str, Any]]:
    """The compose services."""
    svcs = compose()["services"]
    assert isinstance(svcs, dict)
    return svcs


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Resolve ``${VAR}``/``${VAR:-default}`` the way compose does (empty when unset)."""
    env = env or {}

    def sub(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if env.get(name):
            return env[name]
        return default if default is not None else ""

    return _INTERP.sub(sub, value)


def environment(service: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, str]:
    """A service's environment (mapping or list form), interpolated."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {str(k): interpolate(str(v), env) for k, v in raw.items()}


def command(service: dict[str, Any]) -> list[str]:
    """A service's command as an argv list."""
    cmd = service.get("command")
    if cmd is None:
        return []
    if isinstance(cmd, str):
        return shlex.split(cmd)
    return [str(c) for c in cmd]


def flag_value(argv: list[str], *names: str) -> str | None:
    """The value of ``--name value``, ``--name=value`` or Go-style ``-name=value``."""
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(name + "="):
                return arg[len(name) + 1 :]
    return None


def published_ports(service: dict[str, Any]) -> list[tuple[int | None, int]]:
    """``(host port or None, container port)`` for each entry of ``ports``."""
    result: list[tuple[int | None, int]] = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            published = entry.get("published")
            result.append((int(published) if published else None, int(entry["target"])))
            continue
        parts = str(entry).split("/")[0].split(":")
        if len(parts) == 1:
            result.append((None, int(parts[0])))
        else:
            result.append((int(parts[-2]), int(parts[-1])))
    return result


def bind_mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path → host path for each bind mount (named volumes excluded)."""
    mounts: dict[str, str] = {}
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            if entry.get("type") == "bind":
                mounts[entry["target"]] = entry["source"]
            continue
        parts = str(entry).split(":")
        if len(parts) >= 2 and parts[0].startswith((".", "/")):
            mounts[parts[1]] = parts[0]
    return mounts


def host_path_for(service: dict[str, Any], container_path: str) -> Path | None:
    """The repo-relative host path a container path lands on through a bind mount."""
    for target, source in sorted(bind_mounts(service).items(), key=lambda kv: -len(kv[0])):
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            rest = container_path[len(target) :].lstrip("/")
            return Path(os.path.normpath(Path(source) / rest)) if rest else Path(os.path.normpath(source))
    return None


def split_url(url: str) -> tuple[str, int]:
    """Host and port of a URL (port required)."""
    parts = urlsplit(url)
    assert parts.hostname and parts.port, f"{url!r} needs a host and a port"
    return parts.hostname, parts.port


def toxiproxy_config() -> list[dict[str, Any]]:
    """docker/toxiproxy.json."""
    data = json.loads(TOXIPROXY_CONFIG.read_text())
    assert isinstance(data, list)
    return data


# --- Dockerfile ---------------------------------------------------------------
def dockerfile_instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, continuation lines joined, comments dropped."""
    lines: list[str] = []
    buf = ""
    for raw in path.read_text().splitlines():
        stripped = raw.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        lines.append(buf + stripped)
        buf = ""
    if buf:
        lines.append(buf)
    out = []
    for line in lines:
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def exec_form(args: str) -> list[str]:
    """A JSON exec-form argument list (CMD/ENTRYPOINT), or shell words for the shell form."""
    if args.startswith("["):
        value = json.loads(args)
        assert isinstance(value, list)
        return [str(v) for v in value]
    return shlex.split(args)


def dockerignore_patterns() -> list[str]:
    """Non-comment lines of .dockerignore."""
    if not DOCKERIGNORE.exists():
        return []
    return [
        line.strip() for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def dockerignored(rel: str, patterns: list[str] | None = None) -> bool:
    """True when ``rel`` (or a parent directory) matches a .dockerignore pattern (``!`` re-includes)."""
    patterns = dockerignore_patterns() if patterns is None else patterns
    parts = Path(rel).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern[1:] if negate else pattern
        pat = pat.strip("/")
        hit = any(
            fnmatch.fnmatchcase(prefix, pat)
            or (pat.startswith("**/") and fnmatch.fnmatchcase(Path(prefix).name, pat[3:]))
            for prefix in prefixes
        )
        if hit:
            ignored = not negate
    return ignored


# --- shell --------------------------------------------------------------------
_SEPARATORS = {";", "&&", "||", "|", "&"}
_LEADING_KEYWORDS = {"if", "then", "else", "elif", "do", "while", "until", "!", "{", "}"}
_SKIP_KEYWORDS = {"for", "fi", "done", "esac", "case", "in"}
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def shell_commands(script: str) -> list[list[str]]:
    """The simple commands of a (simple) bash script, as argv lists.

    Handles ``;``, ``&&``, ``||``, pipes, line continuations, leading
    ``if/then/do/!`` keywords, ``VAR=value`` prefixes and ``sudo``; loop headers
    (``for x in ...``) and block ends are skipped. Redirections end the argv.
    """
    commands: list[list[str]] = []
    for line in script.replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = ""
        segment: list[str] = []
        segments: list[list[str]] = []
        for token in lexer:
            if token in _SEPARATORS:
                segments.append(segment)
                segment = []
            else:
                segment.append(token)
        segments.append(segment)
        for seg in segments:
            while seg and seg[0] in _LEADING_KEYWORDS:
                seg = seg[1:]
            if not seg or seg[0] in _SKIP_KEYWORDS:
                continue
            while seg and _ASSIGNMENT.match(seg[0]):
                seg = seg[1:]
            if seg and seg[0] == "sudo":
                seg = seg[1:]
            for i, tok in enumerate(seg):
                if tok in (">", ">>", "<", "2>", "2>>") or tok.startswith((">", "<")):
                    seg = seg[:i]
                    break
            if seg:
                commands.append(seg)
    return commands


# --- the project's CLIs -------------------------------------------------------
def check_harness_argv(argv: list[str]) -> Any:
    """Parse ``harness SUB ...`` with the real click command; raise on unknown flags or bad values.

    Returns the parsed click context (its ``params``). Nothing is invoked.
    """
    import typer.main

    from harness.cli import app

    assert argv and argv[0] == "harness", argv
    group: Any = typer.main.get_command(app)  # typer vendors its own click: use the group's classes
    ctx = group.context_class(group, info_name="harness")
    assert len(argv) > 1, "harness without a subcommand"
    sub = group.get_command(ctx, argv[1])
    assert sub is not None, f"harness has no subcommand {argv[1]!r} (has {group.list_commands(ctx)})"
    return sub.make_context(f"harness {argv[1]}", list(argv[2:]), parent=ctx)


_LOCUST_PARSE = """
import json, sys
from locust import argument_parser
from harness.loadgen.options import add_arguments
parser = argument_parser.get_parser()
add_arguments(parser)
opts = parser.parse_args(json.loads(sys.argv[1]))
print(json.dumps({k: v for k, v in vars(opts).items() if isinstance(v, (str, int, float, bool, list, type(None)))}))
"""


def parse_locust_argv(argv: list[str], cwd: Path = REPO) -> dict[str, Any]:
    """Parse a ``locust ...`` argv with Locust's parser plus the harness plugin's arguments.

    In a subprocess: importing locust monkey-patches the interpreter with gevent.
    Raises ``AssertionError`` with Locust's message when the arguments are invalid.
    """
    assert argv and argv[0] == "locust", argv
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "HARNESS_"))}
    proc = subprocess.run(
        [sys.executable, "-c", _LOCUST_PARSE, json.dumps(argv[1:])],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, f"locust rejects {argv}: {proc.stderr.strip()[-800:]}"
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert isinstance(result, dict)
    return result


def python_module_argv(argv: list[str]) -> tuple[str, list[str]] | None:
    """``(module, args)`` for ``python -m module args...``, else None."""
    if len(argv) >= 3 and Path(argv[0]).name.startswith("python") and argv[1] == "-m":
        return argv[2], argv[3:]
    return None


@cache
def module_help(module: str) -> str:
    """``python -m module --help`` output (asserts exit code 0)."""
    proc = subprocess.run(
        [sys.executable, "-m", module, "--help"], cwd=REPO, capture_output=True, text=True, timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 0, f"python -m {module} --help exited {proc.returncode}: {proc.stderr[-800:]}"
    return proc.stdout


def parse_config_port() -> int:
    """The port the compose service listens on, as the service itself reads its environment."""
    from reference_service.config import parse_config

    return parse_config([], environment(services()["service"])).port
