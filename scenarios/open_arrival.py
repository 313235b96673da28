"""OpenArrivalUser: new sessions at a fixed rate, whatever the latency (open model).

Locust users are closed-loop; this user is instead a scheduler: it starts a
session every ``1/rate`` seconds on a fixed schedule into a bounded pool of
session greenlets, records each session's intended start next to its actual
start (so latency can be corrected for coordinated omission), and records a
``missed_start`` whenever the pool is full. ``--arrival-rate`` is the total for
the run: it is split across workers (``--expect-workers``, set by
``--processes``) and across this process's OpenArrivalUser instances, so
``-u 1`` per process is the natural setting. Scenario ``open``.
"""

from __future__ import annotations

import locust  # noqa: F401  # must be imported before anything that pulls in requests/boto3
from gevent.pool import Pool
from locust import FastHttpUser, task
from locust.runners import WorkerRunner

from harness.loadgen import recorder
from harness.loadgen.conversation import Session, disable_client_cookies, http_turn, pick_script, think, user_rng
from harness.loadgen.openmodel import ArrivalScheduler


class OpenArrivalUser(FastHttpUser):
    """An arrival scheduler; each scheduled arrival is one scripted session."""

    scenario = "open"
    concurrency = 200  # connections this user's client may hold for its concurrent sessions

    def on_start(self) -> None:
        self.rng = user_rng(self)
        disable_client_cookies(self.client)
        options = self.environment.parsed_options
        self.arrival_rate = float(getattr(options, "arrival_rate", 1.0))
        self.pool = Pool(int(getattr(options, "open_pool_size", 200)))

    def on_stop(self) -> None:
        self.pool.kill(block=False)

    def rate(self) -> float:
        """This instance's share of the run's arrival rate."""
        runner = self.environment.runner
        workers = 1
        if isinstance(runner, WorkerRunner):
            workers = max(int(getattr(self.environment.parsed_options, "expect_workers", 1) or 1), 1)
        local = 1
        if runner is not None:
            local = max(runner.user_classes_count.get(type(self).__name__, 1), 1)
        return self.arrival_rate / (workers * local)

    def session(self, intended_start: float) -> None:
        session = Session(pick_script(self.rng), scenario=self.scenario)
        first = True
        while not session.done:
            http_turn(self, session, intended_start if first else None)
            first = False
            think(self, self.rng)

    def missed(self, intended_start: float) -> None:
        recorder.emit({"kind": "missed_start", "intended_start": intended_start, "scenario": self.scenario})

    @task
    def schedule(self) -> None:
        ArrivalScheduler(self.rate, self.pool, self.session, self.missed).run()
