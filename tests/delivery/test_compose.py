"""docker-compose.yml, checked without a Docker engine.

Why: the compose stack is only useful if `harness chaos --toxiproxy
http://localhost:8474 --target http://localhost:8000` drives it unchanged, so
every image, port, environment variable and command in it is held against what
the harness and the reference service actually accept.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from tests.delivery import helpers as h

PROJECT_SERVICES = ("llm", "service", "master", "worker")
PROXIES = {"dynamodb", "redis", "llm"}


def test_services_and_images() -> None:
    svcs = h.services()
    assert set(svcs) == {"toxiproxy", "redis", "dynamodb", "llm", "service", "master", "worker"}
    assert svcs["toxiproxy"]["image"] == "ghcr.io/shopify/toxiproxy:2.12.0"
    assert svcs["redis"]["image"] == "redis:7-alpine"
    assert svcs["dynamodb"]["image"].split(":")[0] == "amazon/dynamodb-local"
    for name in PROJECT_SERVICES:
        build = svcs[name].get("build")
        assert isinstance(build, dict), f"{name} must be built from the project Dockerfile"
        context = h.REPO / build.get("context", ".")
        assert context.resolve() == h.REPO
        assert (context / build.get("dockerfile", "Dockerfile")).resolve() == h.DOCKERFILE


def test_redis_has_no_persistence() -> None:
    argv = h.command(h.services()["redis"])
    assert argv[0] == "redis-server"
    assert h.flag_value(argv, "--save") == ""
    assert h.flag_value(argv, "--appendonly") == "no"


def test_dynamodb_local_in_memory_shared() -> None:
    argv = h.command(h.services()["dynamodb"])
    assert argv[:2] == ["-jar", "DynamoDBLocal.jar"]
    assert "-inMemory" in argv and "-sharedDb" in argv
    assert "-dbPath" not in argv


def test_toxiproxy_loads_its_config_and_publishes_the_api() -> None:
    tp = h.services()["toxiproxy"]
    argv = h.command(tp)
    config = h.flag_value(argv, "-config")
    assert config == "/config/toxiproxy.json"
    assert h.flag_value(argv, "-host") == "0.0.0.0"
    api_port = int(h.flag_value(argv, "-port") or 8474)
    source = h.bind_mounts(tp).get(config)
    assert source is not None, "the toxiproxy config must be bind-mounted"
    assert (h.REPO / source).resolve() == h.TOXIPROXY_CONFIG.resolve()
    assert (8474, api_port) in h.published_ports(tp)


def _listen_port(name: str, argv: list[str]) -> int:
    """The port a backend container listens on, from its command."""
    if name == "dynamodb":
        return int(h.flag_value(argv, "-port") or 8000)
    if name == "redis":
        return int(h.flag_value(argv, "--port") or 6379)
    value = h.flag_value(argv, "--port")
    assert value is not None, f"{name} must be started with an explicit --port"
    return int(value)


def test_toxiproxy_proxies_point_at_compose_services() -> None:
    svcs = h.services()
    proxies = h.toxiproxy_config()
    assert {p["name"] for p in proxies} == PROXIES
    assert len(proxies) == len(PROXIES)
    listen_ports = set()
    for proxy in proxies:
        host, _, port = proxy["listen"].rpartition(":")
        assert host == "0.0.0.0", f"{proxy['name']} must listen on all interfaces of the container"
        assert int(port) not in listen_ports and int(port) != 8474
        listen_ports.add(int(port))
        up_host, _, up_port = proxy["upstream"].rpartition(":")
        assert up_host in svcs, f"{proxy['name']} upstream {up_host} is not a compose service"
        assert int(up_port) == _listen_port(up_host, h.command(svcs[up_host]))
        assert proxy.get("enabled", True) is True


def _service_env(overrides: dict[str, str] | None = None) -> dict[str, str]:
    return h.environment(h.services()["service"], overrides)


def test_service_env_names_are_real_flags() -> None:
    help_text = h.module_help("reference_service")
    flags = set(re.findall(r"--([a-z][a-z0-9-]*)", help_text))
    env = _service_env()
    refsvc = [k for k in env if k.startswith("REFSVC_")]
    assert refsvc, "the service gets its settings from REFSVC_* variables"
    for key in refsvc:
        flag = key[len("REFSVC_"):].lower().replace("_", "-")
        assert flag in flags, f"{key}: the service has no --{flag} (has {sorted(flags)})"


@pytest.mark.parametrize("variant", ["hardened", "seed"])
def test_service_env_parses_into_a_valid_config(variant: str) -> None:
    from reference_service.config import parse_config

    overrides = {} if variant == "hardened" else {"REFSVC_VARIANT": "seed"}
    env = _service_env(overrides)
    config = parse_config([], env)
    assert config.variant == variant
    assert config.host == "0.0.0.0"
    assert (8000, config.port) in h.published_ports(h.services()["service"])
    assert config.event_log and config.outbox_path


def test_service_reaches_backends_only_through_toxiproxy() -> None:
    listen = {p["name"]: int(p["listen"].rpartition(":")[2]) for p in h.toxiproxy_config()}
    env = _service_env()
    urls = {"dynamodb": env["REFSVC_DYNAMODB_URL"], "redis": env["REFSVC_REDIS_URL"], "llm": env["REFSVC_LLM_URL"]}
    for proxy, url in urls.items():
        host, port = h.split_url(url)
        assert host == "toxiproxy", f"{proxy} must go through toxiproxy, not {host}"
        assert port == listen[proxy], f"{url} is not the {proxy} proxy's listen port {listen[proxy]}"
    backend_hosts = {"dynamodb", "redis", "llm"}
    for key, value in env.items():
        for host in backend_hosts:
            assert not re.search(rf"//{host}[:/]|//{host}$", value), f"{key}={value} bypasses toxiproxy"
    depends = h.services()["service"]["depends_on"]
    assert "toxiproxy" in depends


def test_event_log_lands_in_the_bind_mounted_reports_dir() -> None:
    svc = h.services()["service"]
    event_log = _service_env()["REFSVC_EVENT_LOG"]
    host_path = h.host_path_for(svc, event_log)
    assert host_path == Path("reports/compose/events.jsonl")
    outbox = _service_env()["REFSVC_OUTBOX_PATH"]
    assert h.host_path_for(svc, outbox) is None, "the outbox journal belongs in a volume, not in reports/"
    assert any(str(v).startswith("outbox:") for v in svc["volumes"])
    assert "outbox" in h.compose().get("volumes", {})


def test_aws_dummy_credentials() -> None:
    env = _service_env()
    assert env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY")
    from reference_service.config import parse_config

    assert env.get("AWS_DEFAULT_REGION") == parse_config([], env).aws_region


def test_published_ports() -> None:
    svcs = h.services()
    expected = {"toxiproxy": (8474, 8474), "service": (8000, 8000), "dynamodb": (8001, 8000), "master": (8089, 8089)}
    for name, svc in svcs.items():
        ports = h.published_ports(svc)
        if name in expected:
            assert ports == [expected[name]], f"{name} publishes {ports}"
        else:
            assert all(host is None for host, _ in ports), f"{name} must not publish host ports"
    assert _listen_port("dynamodb", h.command(svcs["dynamodb"])) == 8000


def _documented_harness_commands() -> list[list[str]]:
    lines = [line.lstrip("#").strip() for line in h.COMPOSE.read_text().splitlines() if line.startswith("#")]
    return [cmd for line in lines if line.startswith("harness ") for cmd in h.shell_commands(line)]


def test_documented_harness_commands_drive_the_stack() -> None:
    from harness.stack.net import require_loopback

    commands = _documented_harness_commands()
    assert commands, "docker-compose.yml should show how `harness chaos` drives it"
    published = {name: h.published_ports(svc) for name, svc in h.services().items()}
    saw_events = False
    for argv in commands:
        params = h.check_harness_argv(argv).params
        toxiproxy, target = params["toxiproxy"], params["target"]
        assert toxiproxy and target
        for url in (toxiproxy, target, params.get("dynamodb_url")):
            if url:
                require_loopback(url, "url")
        assert h.split_url(toxiproxy)[1] == published["toxiproxy"][0][0]
        assert h.split_url(target)[1] == published["service"][0][0]
        if params.get("dynamodb_url"):
            assert h.split_url(params["dynamodb_url"])[1] == published["dynamodb"][0][0]
        if params.get("service_events"):
            saw_events = True
            svc = h.services()["service"]
            assert Path(params["service_events"]) == h.host_path_for(svc, _service_env()["REFSVC_EVENT_LOG"])
    assert ["harness", "chaos", "--toxiproxy", "http://localhost:8474", "--target", "http://localhost:8000"] in commands
    assert saw_events


def test_locust_master_and_workers() -> None:
    svcs = h.services()
    master_argv, worker_argv = h.command(svcs["master"]), h.command(svcs["worker"])
    master = h.parse_locust_argv(master_argv)
    worker = h.parse_locust_argv(worker_argv)
    for opts in (master, worker):
        assert opts["locustfile"].rstrip("/") == "scenarios"
        assert (h.REPO / "scenarios").is_dir()
    assert master["master"] is True and not master["worker"]
    assert worker["worker"] is True and not worker["master"]
    host, port = h.split_url(master["host"])
    assert host == "service" and port == h.parse_config_port()
    assert master["web_port"] == 8089 and master["web_host"] == "0.0.0.0"
    assert worker["master_host"] == "master"
    assert worker["master_port"] == master["master_bind_port"]
    records = h.host_path_for(svcs["master"], master["record_dir"])
    assert records is not None and records.parts[:2] == ("reports", "compose")
    assert "container_name" not in svcs["worker"]
    assert not svcs["worker"].get("ports"), "a scaled worker must not bind host ports"
    assert "master" in svcs["worker"].get("depends_on", {})


def _python_module_commands() -> list[tuple[str, str, list[str]]]:
    found = []
    for name, svc in h.services().items():
        parsed = h.python_module_argv(h.command(svc))
        if parsed:
            found.append((name, *parsed))
    return found


def test_python_modules_in_compose_exist_and_take_their_flags() -> None:
    modules = _python_module_commands()
    assert {m for _, m, _ in modules} >= {"reference_service", "harness.standins.llm"}
    for service, module, args in modules:
        assert importlib.util.find_spec(module) is not None, f"{service}: python -m {module}: no such module"
        help_text = h.module_help(module)
        for arg in args:
            if arg.startswith("--"):
                assert arg.split("=")[0] in help_text, f"{service}: {module} has no {arg}"


def test_llm_proxy_upstream_matches_standin_port() -> None:
    svcs = h.services()
    argv = h.command(svcs["llm"])
    assert h.flag_value(argv, "--host") == "0.0.0.0"
    upstream = next(p["upstream"] for p in h.toxiproxy_config() if p["name"] == "llm")
    assert upstream == f"llm:{h.flag_value(argv, '--port')}"


def test_depends_on_and_healthchecks() -> None:
    svcs = h.services()
    for name, svc in svcs.items():
        depends = svc.get("depends_on") or {}
        for dep, spec in (depends.items() if isinstance(depends, dict) else ((d, {}) for d in depends)):
            assert dep in svcs, f"{name} depends on unknown service {dep}"
            if (spec or {}).get("condition") == "service_healthy":
                assert "healthcheck" in svcs[dep], f"{name} waits for {dep} to be healthy but it has no healthcheck"
        check = svc.get("healthcheck")
        if not check:
            continue
        test = check["test"]
        assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL")
        if test[0] == "CMD" and test[1] == "python" and test[2] == "-c":
            compile(test[3], f"{name} healthcheck", "exec")
    service_check = " ".join(svcs["service"]["healthcheck"]["test"])
    assert f":{h.parse_config_port()}/healthz" in service_check
    llm_port = h.flag_value(h.command(svcs["llm"]), "--port")
    assert f", {llm_port})" in " ".join(svcs["llm"]["healthcheck"]["test"])
    assert svcs["master"]["depends_on"]["service"]["condition"] == "service_healthy"
