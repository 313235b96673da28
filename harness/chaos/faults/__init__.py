"""Faults the harness can inject: one module per kind, each behind :class:`~harness.chaos.faults.base.Fault`.

Everything goes through the Toxiproxy API, so the same fault works against our
embedded proxy, Shopify's server or a docker-compose stack; LLM error answers,
which a TCP proxy cannot forge, use the stand-in's control API when the LLM is ours.
"""

from harness.chaos.faults.base import TOXIC_PREFIX, Fault, parse_rate, toxic_name
from harness.chaos.faults.blackhole import BlackholeFault
from harness.chaos.faults.down import DownFault
from harness.chaos.faults.dynamo_errors import DynamoErrorFault
from harness.chaos.faults.latency import LatencyFault
from harness.chaos.faults.llm_errors import LlmErrorFault

__all__ = ["TOXIC_PREFIX", "BlackholeFault", "DownFault", "DynamoErrorFault", "Fault", "LatencyFault", "LlmErrorFault",
           "parse_rate", "toxic_name"]
