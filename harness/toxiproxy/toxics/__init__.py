"""One module per toxic behind the :class:`~harness.toxiproxy.toxics.base.Toxic` interface.

Importing this package registers every toxic type in
:data:`~harness.toxiproxy.toxics.base.REGISTRY`, mirroring Toxiproxy's
``toxics/`` directory where each file calls ``Register`` in ``init()``.
"""

from harness.toxiproxy.toxics import (  # noqa: F401 - imported for registration
    bandwidth,
    latency,
    limit_data,
    noop,
    reset_peer,
    slicer,
    slow_close,
    timeout,
)
from harness.toxiproxy.toxics.base import REGISTRY, Interrupted, RecvTimeout, StubAPI, Toxic, lookup

__all__ = ["REGISTRY", "Interrupted", "RecvTimeout", "StubAPI", "Toxic", "lookup"]
