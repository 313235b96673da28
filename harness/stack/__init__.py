"""The embedded stack: DynamoDB, Redis and an LLM, each behind a Toxiproxy proxy, plus the service.

``components`` decides which backend serves each part (an explicit URL, a real
server binary on PATH, or an in-Python stand-in); ``procs`` starts and reaps
processes; ``lifecycle`` composes them into ``harness up``/``status``/``down``.
"""
