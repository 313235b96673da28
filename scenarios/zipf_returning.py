"""ZipfReturningUser: a fixed population of returning customers chosen by a Zipf law.

UUIDv4 sessions spread load evenly; the hot-partition analyzer needs skewed
traffic to find next to them. Each visit draws a customer (rank k with
probability proportional to 1/k^s, ``--zipf-s``, among ``--zipf-population``),
reuses that customer's session cookie and sends one self-contained message (the
opening turn of a corpus script, whose check needs no earlier context). Visits
of the same customer may overlap, as a popular account's traffic does: that
concurrency on one partition key is what makes a partition hot, and a lock per
customer would flatten exactly the skew this scenario exists to produce.
Scenario ``zipf``.
"""

from __future__ import annotations

from functools import cache

import locust  # noqa: F401  # must be imported before anything that pulls in requests/boto3
from locust import FastHttpUser, task

from harness.loadgen import (
    recorder,  # noqa: F401  # registers the recording plugin
    zipf,
)
from harness.loadgen.conversation import Session, corpus, disable_client_cookies, http_turn, think, user_rng
from harness.loadgen.corpus import Script


@cache
def opening_turns() -> tuple[Script, ...]:
    """One-turn scripts made of each corpus script's first turn (never a reference turn)."""
    out = []
    for script in corpus():
        first = script.turns[0]
        if not first.needs_memory:
            out.append(Script(f"{script.id}#opening", script.description, (first,), script.tags))
    return tuple(out)


class ZipfReturningUser(FastHttpUser):
    """Serves single-turn visits of Zipf-chosen returning customers."""

    scenario = "zipf"

    def on_start(self) -> None:
        self.rng = user_rng(self)
        disable_client_cookies(self.client)
        options = self.environment.parsed_options
        self.population = zipf.population(
            int(getattr(options, "zipf_population", 1000)), float(getattr(options, "zipf_s", 1.2))
        )

    @task
    def visit(self) -> None:
        customer = self.population.get(self.population.sampler.sample(self.rng))
        session = Session(
            self.rng.choice(opening_turns()),
            scenario=self.scenario,
            cookie=customer.cookie,
            session_id=customer.session_id,
            last_turn_number=customer.last_turn_number,
        )
        http_turn(self, session)
        if session.cookie:
            customer.cookie = session.cookie
            customer.session_id = session.session_id
        customer.last_turn_number = max(customer.last_turn_number, session.last_turn_number)
        think(self, self.rng)
