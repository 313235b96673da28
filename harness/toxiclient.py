"""A small typed client for the Toxiproxy HTTP API.

``harness up`` creates its proxies through ``toxiproxy-python`` (the client
users already know); this module is what the harness itself uses to read
state and to apply and roll back toxics, because chaos needs precise error
handling (a rollback that fails must be reported, not swallowed) and timeouts,
which ``toxiproxy-python`` does not offer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

USER_AGENT = "memory-chaos-harness"


class ToxiproxyError(RuntimeError):
    """The Toxiproxy API answered with an error or could not be reached."""


class ToxiproxyClient:
    """Blocking client for one Toxiproxy server (ours or Shopify's)."""

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, headers={"User-Agent": USER_AGENT})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ToxiproxyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            resp = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ToxiproxyError(f"{method} {self.base_url}{path}: {exc}") from exc
        if resp.status_code >= 400:
            try:
                message = resp.json().get("error", resp.text)
            except ValueError:
                message = resp.text.strip()
            raise ToxiproxyError(f"{method} {path}: HTTP {resp.status_code}: {message}")
        if resp.status_code == 204 or not resp.content:
            return None
        return resp.json()

    def start_tap(self, proxy: str, path: Path) -> bool:
        """Log ``proxy``'s traffic to ``path`` on our server; False when it has no tap (a real Toxiproxy)."""
        try:
            self._call("POST", "/harness/taps", {"proxy": proxy, "path": str(path), "http": True})
        except ToxiproxyError as exc:
            if "HTTP 404" not in str(exc) and "HTTP 405" not in str(exc):
                raise
            # Our server answers 404 for an unknown proxy too: only a server
            # without the taps endpoint at all is a real Toxiproxy.
            try:
                self._call("GET", "/harness/taps")
            except ToxiproxyError:
                return False
            raise
        return True

    def stop_tap(self, proxy: str) -> None:
        """Stop and flush the tap on ``proxy`` (already gone is fine)."""
        try:
            self._call("DELETE", f"/harness/taps/{proxy}")
        except ToxiproxyError as exc:
            if "HTTP 404" not in str(exc):
                raise

    def version(self) -> str:
        data = self._call("GET", "/version")
        return str(data.get("version", "")) if isinstance(data, dict) else str(data)

    def proxies(self) -> dict[str, dict[str, Any]]:
        return dict(self._call("GET", "/proxies") or {})

    def proxy(self, name: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/proxies/{name}"))

    def set_enabled(self, name: str, enabled: bool) -> dict[str, Any]:
        return dict(self._call("POST", f"/proxies/{name}", {"enabled": enabled}))

    def delete_proxy(self, name: str) -> None:
        self._call("DELETE", f"/proxies/{name}")

    def add_toxic(
        self,
        proxy: str,
        toxic_type: str,
        attributes: dict[str, Any],
        name: str | None = None,
        stream: str = "downstream",
        toxicity: float = 1.0,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"type": toxic_type, "stream": stream, "toxicity": toxicity,
                                "attributes": attributes}
        if name:
            body["name"] = name
        return dict(self._call("POST", f"/proxies/{proxy}/toxics", body))

    def update_toxic(self, proxy: str, name: str, attributes: dict[str, Any]) -> dict[str, Any]:
        """Change a live toxic's attributes (Toxiproxy's ``POST /proxies/{proxy}/toxics/{toxic}``)."""
        return dict(self._call("POST", f"/proxies/{proxy}/toxics/{name}", {"attributes": attributes}))

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._call("DELETE", f"/proxies/{proxy}/toxics/{name}")

    def toxics(self, proxy: str) -> list[dict[str, Any]]:
        return list(self._call("GET", f"/proxies/{proxy}/toxics") or [])

    def reset(self) -> None:
        self._call("POST", "/reset")
