"""Service configuration: command-line flags, each backed by a ``REFSVC_*`` variable.

Why both: the stack starts the service as a child process and finds it easier
to pass environment variables, while people at a terminal type flags.  The rule
(docs/contracts.md, "Reference service") is that ``--foo-bar`` also reads ``REFSVC_FOO_BAR`` and
the flag wins.  Bad values end the process with a clear message and exit code
2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from reference_service.memory.breaker import BreakerConfig

VARIANTS = ("seed", "hardened")


@dataclass(slots=True)
class ServiceConfig:
    """Everything the service needs to start."""

    dynamodb_url: str
    redis_url: str
    llm_url: str
    host: str = "127.0.0.1"
    port: int = 8000
    port_file: str | None = None
    variant: str = "hardened"
    llm_api_key: str = "standin-key"
    llm_model: str = "claude-sonnet-4-6"
    llm_timeout_s: float = 10.0
    llm_max_retries: int = 2
    table_name: str = "ChatSessions"
    aws_region: str = "us-east-1"
    dynamo_timeout_ms: float = 200.0
    breaker_threshold: int = 5
    breaker_window_s: float = 10.0
    breaker_open_s: float = 30.0
    redis_timeout_ms: float = 100.0
    event_log: str | None = None
    outbox_path: str | None = None
    cookie_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    outbox_retry_s: float = 0.5
    log_level: str = "warning"
    max_connections: int = 1024

    @property
    def breaker(self) -> BreakerConfig:
        """The breaker parameters as one value."""
        return BreakerConfig(
            threshold=self.breaker_threshold,
            window_s=self.breaker_window_s,
            open_s=self.breaker_open_s,
            timeout_ms=self.dynamo_timeout_ms,
        )

    def validate(self) -> None:
        """Raise ``ValueError`` with a readable message for impossible settings."""
        if self.variant not in VARIANTS:
            raise ValueError(f"--variant must be one of {', '.join(VARIANTS)}, got {self.variant!r}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"--port must be 0..65535, got {self.port}")
        for name in ("dynamodb_url", "llm_url"):
            value = getattr(self, name)
            if not value.startswith(("http://", "https://")):
                raise ValueError(f"--{name.replace('_', '-')} must be an http(s) URL, got {value!r}")
        if not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"--redis-url must be a redis:// URL, got {self.redis_url!r}")
        positive = (
            "llm_timeout_s", "dynamo_timeout_ms", "breaker_window_s", "breaker_open_s",
            "redis_timeout_ms", "outbox_retry_s",
        )
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"--{name.replace('_', '-')} must be > 0")
        if self.breaker_threshold < 1:
            raise ValueError("--breaker-threshold must be >= 1")
        if self.llm_max_retries < 0:
            raise ValueError("--llm-max-retries must be >= 0")
        if self.max_connections < 1:
            raise ValueError(f"--max-connections must be >= 1, got {self.max_connections}")
        if not self.cookie_secret:
            raise ValueError("--cookie-secret must not be empty")


_FLAGS: list[tuple[str, type, str]] = [
    ("host", str, "listen address"),
    ("port", int, "listen port (0 = any free port)"),
    ("port-file", str, "write the chosen port here"),
    ("variant", str, "seed | hardened"),
    ("dynamodb-url", str, "DynamoDB endpoint (required)"),
    ("redis-url", str, "redis://host:port/0 (required)"),
    ("llm-url", str, "Anthropic base URL (required)"),
    ("llm-api-key", str, "API key (also ANTHROPIC_API_KEY)"),
    ("llm-model", str, "model name"),
    ("llm-timeout-s", float, "LLM request timeout"),
    ("llm-max-retries", int, "LLM SDK retries"),
    ("table-name", str, "DynamoDB table"),
    ("aws-region", str, "AWS region"),
    ("dynamo-timeout-ms", float, "breaker call timeout"),
    ("breaker-threshold", int, "failures that open the breaker"),
    ("breaker-window-s", float, "sliding failure window"),
    ("breaker-open-s", float, "open time before half-open"),
    ("redis-timeout-ms", float, "Redis socket connect/read timeout"),
    ("event-log", str, "JSON-lines event log path"),
    ("outbox-path", str, "hardened: outbox journal path"),
    ("cookie-secret", str, "session cookie signing secret"),
    ("outbox-retry-s", float, "hardened: outbox retry period"),
    ("log-level", str, "uvicorn log level"),
    ("max-connections", int, "connections open at once; a request on one more is answered 503"),
]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def parse_config(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> ServiceConfig:
    """Build the configuration from flags, then ``REFSVC_*`` variables, then defaults.

    Raises ``SystemExit(2)`` with a message on any bad value.
    """
    env = os.environ if env is None else env
    parser = _Parser(prog="python -m reference_service", description="Reference chat orchestrator service")
    for flag, _typ, help_text in _FLAGS:
        parser.add_argument(f"--{flag}", dest=flag.replace("-", "_"), default=None, help=help_text)
    ns = parser.parse_args(argv)
    values: dict[str, object] = {}
    for flag, typ, _help in _FLAGS:
        key = flag.replace("-", "_")
        raw = getattr(ns, key)
        if raw is None:
            raw = env.get("REFSVC_" + key.upper())
        if raw is None and key == "llm_api_key":
            raw = env.get("ANTHROPIC_API_KEY")
        if raw is None or raw == "":
            continue
        try:
            values[key] = typ(raw)
        except ValueError:
            parser.error(f"--{flag}: expected {typ.__name__}, got {raw!r}")
    missing = [k for k in ("dynamodb_url", "redis_url", "llm_url") if k not in values]
    if missing:
        parser.error(
            "missing required setting(s): "
            + ", ".join(f"--{m.replace('_', '-')} (or REFSVC_{m.upper()})" for m in missing)
        )
    config = ServiceConfig(**values)  # type: ignore[arg-type]
    try:
        config.validate()
    except ValueError as exc:
        parser.error(str(exc))
    return config
