"""Zipf-distributed returning customers, for the hot-partition contrast.

UUIDv4 session ids spread evenly over DynamoDB partitions; hot partitions come
from *access skew* (a few keys taking most of the traffic). ZipfReturningUser
therefore keeps a fixed population of N customers, each with its own session
cookie that persists across visits, and picks the next visitor with a Zipf law
(rank k with probability proportional to 1/k^s). The population lives per
process: in a distributed run each worker has its own N customers.
"""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass
from typing import Any


class ZipfSampler:
    """Draw ranks 0..n-1 with P(k) proportional to 1/(k+1)^s (inverse CDF, O(log n))."""

    def __init__(self, n: int, s: float) -> None:
        if n < 1:
            raise ValueError("population must be >= 1")
        if s <= 0:
            raise ValueError("s must be > 0")
        self.n, self.s = n, s
        self._cdf = list(itertools.accumulate(1.0 / (k**s) for k in range(1, n + 1)))

    def probability(self, rank: int) -> float:
        return (1.0 / ((rank + 1) ** self.s)) / self._cdf[-1]

    def sample(self, rng: random.Random) -> int:
        return min(bisect.bisect_left(self._cdf, rng.random() * self._cdf[-1]), self.n - 1)


@dataclass
class Customer:
    """A returning customer: a session cookie that outlives visits."""

    rank: int
    cookie: str | None = None
    session_id: str | None = None
    last_turn_number: int = 0


class Population:
    """The process's customers, created lazily on first visit."""

    def __init__(self, n: int, s: float) -> None:
        self.sampler = ZipfSampler(n, s)
        self.customers: dict[int, Customer] = {}

    def get(self, rank: int) -> Customer:
        """The customer of ``rank``; visits of one customer may overlap, like a popular account's."""
        customer = self.customers.get(rank)
        if customer is None:
            customer = self.customers[rank] = Customer(rank)
        return customer


_POPULATIONS: dict[tuple[int, float], Population] = {}


def population(n: int, s: float) -> Population:
    """The process-wide population for (n, s)."""
    key = (n, s)
    if key not in _POPULATIONS:
        _POPULATIONS[key] = Population(n, s)
    return _POPULATIONS[key]


def describe(pop: Population) -> dict[str, Any]:
    return {"n": pop.sampler.n, "s": pop.sampler.s, "p_top": pop.sampler.probability(0)}


__all__ = ["Customer", "Population", "ZipfSampler", "describe", "population"]
