"""The price table cost projections use: dated, shipped with the package, overridable with ``--prices FILE``.

Why dated and overridable: AWS changes DynamoDB prices (on-demand fell by half
in November 2024) and they differ by region, so a cost figure is only honest
next to the date and region of its prices, and a team must be able to use its
own (or its discount's) without editing code.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PRICES = Path(__file__).with_name("prices.json")


class PricesError(ValueError):
    """The price file is unreadable, or has unknown keys or non-numeric prices."""


@dataclass(frozen=True)
class Prices:
    as_of: str
    region: str
    currency: str
    source: str
    on_demand_per_million_wru: float
    on_demand_per_million_rru: float
    provisioned_per_wcu_hour: float
    provisioned_per_rcu_hour: float
    storage_per_gb_month: float
    storage_free_gb: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise PricesError(f"cannot read price file {path}: {exc}") from None
    if not isinstance(data, dict):
        raise PricesError(f"price file {path} must hold a mapping")
    return data


def load_prices(path: Path | None = None) -> Prices:
    """The shipped table, with any keys of ``path`` (JSON or YAML) overriding it."""
    data = _read(DEFAULT_PRICES)
    if path is not None:
        over = _read(path)
        known = {f.name for f in fields(Prices)}
        unknown = sorted(set(over) - known)
        if unknown:
            raise PricesError(f"unknown price key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        data.update(over)
    for f in fields(Prices):
        if f.type in ("float", float) and (isinstance(data[f.name], bool)
                                           or not isinstance(data[f.name], (int, float)) or data[f.name] < 0):
            raise PricesError(f"price {f.name} must be a number >= 0, got {data[f.name]!r}")
    values: dict[str, Any] = {f.name: (float(data[f.name]) if f.type in ("float", float) else str(data[f.name]))
                              for f in fields(Prices)}
    return Prices(**values)
