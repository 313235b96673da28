"""The ``python -m harness.toxiproxy`` entry (ready line, config, busy port, SIGTERM) and API edge cases."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

from toxi_helpers import Api, EchoServer, connect, listen_port, recv_exact


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "harness.toxiproxy", "--host", "127.0.0.1", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_busy_api_port_gives_one_line_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = _spawn("--port", str(port))
        try:
            out, err = proc.communicate(timeout=20)
        finally:
            proc.kill()
    assert proc.returncode == 1
    assert err.strip().splitlines() == [f"error: cannot listen on 127.0.0.1:{port}: address already in use"]
    assert "Traceback" not in err and out == ""


def test_bad_config_and_bad_port_exit_nonzero(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('[{"name": "", "upstream": "127.0.0.1:1"}]')
    proc = _spawn("--port", "0", "--config", str(bad))
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 1 and "missing required field: name at proxy 1" in err
    assert "Traceback" not in err
    proc = _spawn("--port", "0", "--config", str(tmp_path / "missing.json"))
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 1 and "cannot read config" in err and "Traceback" not in err
    proc = _spawn("--port", "70000")
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2 and "Traceback" not in err


def test_cli_with_config_serves_and_stops_on_sigterm(tmp_path: Path, echo: EchoServer) -> None:
    cfg = tmp_path / "proxies.json"
    cfg.write_text(json.dumps([{"name": "redis", "listen": "127.0.0.1:0", "upstream": echo.addr}]))
    proc = _spawn("--port", "0", "--config", str(cfg))
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("toxiproxy listening on http://127.0.0.1:")
        api = Api(int(line.rsplit(":", 1)[1]))
        status, proxies = api.call("GET", "/proxies")
        assert status == 200 and list(proxies) == ["redis"]
        with connect(listen_port(proxies["redis"])) as s:
            s.sendall(b"PING")
            assert recv_exact(s, 4) == b"PING"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_user_agent_and_unknown_paths(api: Api) -> None:
    moz = {"User-Agent": "Mozilla/5.0"}
    for method, path in [("GET", "/proxies"), ("GET", "/nope"), ("POST", "/reset")]:
        status, ct, body, headers = api.raw(method, path, None, moz)
        assert (status, ct, body) == (403, "text/plain; charset=utf-8", b"User agent not allowed\n")
        assert headers.get("X-Toxiproxy-Request-Id")
    assert api.raw("GET", "/proxies", None, {"User-Agent": "curl/8"})[0] == 200
    for method, path in [("DELETE", "/reset"), ("GET", "/populate"), ("PUT", "/proxies/x/toxics")]:
        status, ct, body, _ = api.raw(method, path)
        assert (status, ct, body) == (405, None, b"")
    status, ct, body, _ = api.raw("GET", "/proxies/a/b/c")
    assert (status, body) == (404, b"404 page not found\n")


def test_toxic_validation_edges(api: Api, echo: EchoServer) -> None:
    assert api.call("POST", "/proxies", {"name": "p", "listen": "127.0.0.1:0", "upstream": echo.addr})[0] == 201
    status, _ct, body, _ = api.raw("POST", "/proxies/p/toxics", b'{"type":"latency","attributes":{"latency":1.5}}')
    assert status == 400 and json.loads(body)["error"] == (
        "bad request body: json: cannot unmarshal number 1.5 into Go struct field "
        "LatencyToxic.attributes.latency of type int64"
    )
    # the stream check comes before the type check, and the type check before the name clash
    assert api.call("POST", "/proxies/p/toxics", {"type": "nosuch", "stream": "x"})[1]["error"].startswith("stream")
    assert api.call("POST", "/proxies/p/toxics", {"type": "noop", "name": "n"})[0] == 200
    assert api.call("POST", "/proxies/p/toxics", {"type": "nosuch", "name": "n"})[1]["error"] == "invalid toxic type"
    assert api.call("POST", "/proxies/p/toxics", {"type": "latency", "name": "n", "stream": "upstream"})[0] == 409
    # a name clash beats a badly typed attribute
    clash = {"type": "timeout", "name": "n", "attributes": {"timeout": "x"}}
    assert api.call("POST", "/proxies/p/toxics", clash)[0] == 409
    status, toxic = api.call("POST", "/proxies/p/toxics", {"type": "bandwidth", "attributes": None})
    assert status == 200 and toxic["attributes"] == {"rate": 0}
    status, _err = api.call("PATCH", "/proxies/p/toxics/bandwidth_downstream", {"attributes": {"rate": "fast"}})
    assert status == 400
    assert api.call("GET", "/proxies/p/toxics/bandwidth_downstream")[1]["attributes"] == {"rate": 0}


def test_populate_keeps_equivalent_and_replaces_changed(api: Api, echo: EchoServer) -> None:
    status, body = api.call("POST", "/populate", [{"name": "a", "listen": "127.0.0.1:0", "upstream": echo.addr}])
    assert status == 201
    listen = body["proxies"][0]["listen"]
    port = listen_port(body["proxies"][0])
    assert api.call("POST", "/proxies/a/toxics", {"type": "noop"})[0] == 200
    same = [{"name": "a", "listen": f"localhost:{port}", "upstream": echo.addr}]
    status, body = api.call("POST", "/populate", same)
    assert status == 201 and body["proxies"][0]["listen"] == listen and len(body["proxies"][0]["toxics"]) == 1
    changed = [{"name": "a", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1"}]
    status, body = api.call("POST", "/populate", changed)
    assert status == 201 and body["proxies"][0]["toxics"] == [] and body["proxies"][0]["upstream"] == "127.0.0.1:1"
    status, ct, raw, _ = api.raw("POST", "/populate", b"[{")
    assert status == 400 and ct == "application/json" and json.loads(raw)["proxies"] is None
