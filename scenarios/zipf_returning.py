"""ZipfReturningUser: a fixed population of returning customers chosen by a Zipf law.

UUIDv4 sessions spread load evenly; the hot-partition analyzer needs skewed
traffic to find next to them. Each visit draws a customer (rank k with
probability proportional to 1/k^s, ``--zipf-s``, among ``--zipf-population``),
reuses that customer's session cookie, and follows a fresh script in the same
session, so a few session ids take most of the traffic. Scenario ``zipf``.
"""

from __future__ import annotations

import random

import locust  # noqa: F401  # must be imported before anything that pulls in requests/boto3
from locust import FastHttpUser, task

from harness.loadgen import (
    recorder,  # noqa: F401  # registers the recording plugin
    zipf,
)
from harness.loadgen.conversation import Session, disable_client_cookies, http_turn, pick_script, think


class ZipfReturningUser(FastHttpUser):
    """Serves visits of Zipf-chosen returning customers, one visit at a time."""

    scenario = "zipf"

    def on_start(self) -> None:
        self.rng = random.Random()
        disable_client_cookies(self.client)
        options = self.environment.parsed_options
        self.population = zipf.population(
            int(getattr(options, "zipf_population", 1000)), float(getattr(options, "zipf_s", 1.2))
        )

    @task
    def visit(self) -> None:
        customer = self.population.checkout(self.rng)
        try:
            session = Session(
                pick_script(self.rng),
                scenario=self.scenario,
                cookie=customer.cookie,
                session_id=customer.session_id,
                last_turn_number=customer.last_turn_number,
            )
            while not session.done:
                http_turn(self, session)
                customer.cookie = session.cookie
                customer.session_id = session.session_id
                customer.last_turn_number = session.last_turn_number
                think(self, self.rng)
        finally:
            self.population.release(customer)
