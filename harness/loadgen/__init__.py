"""Load generation for the harness: shared code behind the locustfiles in ``scenarios/``.

Locust loads every ``*.py`` of ``scenarios/`` and refuses duplicate User class
names, so anything two scenarios share (the conversation corpus and its checker,
the per-request recorder, host discovery, open-model scheduling, Zipf sampling)
lives here, in an importable package, instead of being copied between files.

Import-order rule: ``import locust`` monkey-patches the process with gevent and
must happen before ``requests`` or ``boto3`` are imported. No module of this
package imports either of them, and this ``__init__`` imports nothing, so a
locustfile can ``import locust`` first and then pull in what it needs.
"""
