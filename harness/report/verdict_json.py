"""verdict.json: the machine-readable verdict the CI gate and later tooling read."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from harness.analyzers.base import Verdict


def _default(o: Any) -> Any:
    """numpy scalars/arrays and other stragglers -> plain JSON."""
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "item"):
        return o.item()
    return str(o)


def _clean(o: Any) -> Any:
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    return o


def verdict_dict(verdict: Verdict) -> dict[str, Any]:
    """The verdict as plain JSON types (NaN/inf become null so the file is strict JSON)."""
    d: dict[str, Any] = json.loads(json.dumps(verdict.to_dict(), default=_default))
    d = _clean(d)
    d["run"] = _clean(json.loads(json.dumps(verdict.run, default=_default)))
    return d


def write_verdict_json(path: Path, verdict: Verdict) -> Path:
    path.write_text(json.dumps(verdict_dict(verdict), indent=1, allow_nan=False), encoding="utf-8")
    return path
