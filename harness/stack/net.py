"""Loopback ports and address checks.

Every load or fault target must be a loopback address: the harness is a
measuring instrument for one machine (or a Locust cluster the user runs), and a
typo must never turn it into a load generator against somebody else's host.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class AddressError(ValueError):
    """A URL that is malformed or not on loopback."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel reports free right now (there is a small race until it is bound)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    """True when something already listens on ``host:port`` or the port cannot be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def can_connect(host: str, port: int, timeout: float = 0.3) -> bool:
    """True when a TCP connect to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def host_port(url: str, default_port: int | None = None) -> tuple[str, int]:
    """Split ``scheme://host:port`` (or ``host:port``) into its host and port."""
    parts = urlsplit(url if "://" in url else f"tcp://{url}")
    if not parts.hostname:
        raise AddressError(f"{url!r} has no host")
    try:
        port = parts.port
    except ValueError as exc:
        raise AddressError(f"{url!r} has an invalid port") from exc
    if port is None:
        if default_port is None:
            raise AddressError(f"{url!r} has no port")
        port = default_port
    return parts.hostname, port


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ``::1``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_loopback(url: str, what: str) -> str:
    """Return ``url`` unchanged if it points at loopback, else raise :class:`AddressError`."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AddressError(f"{what}: {url!r} is not an http(s) URL")
    if "@" in parts.netloc:
        raise AddressError(f"{what}: {url!r} carries user info (user@host); give a plain http://127.0.0.1:PORT URL")
    if not is_loopback(parts.hostname):
        raise AddressError(
            f"{what}: {parts.hostname} is not a loopback address; load and faults only target 127.0.0.0/8"
        )
    return url.rstrip("/")
