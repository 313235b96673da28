"""Faults the harness can inject: one module per kind, each behind :class:`~harness.chaos.faults.base.Fault`.

Everything goes through the Toxiproxy API, so the same fault works against our
embedded proxy, Shopify's server or a docker-compose stack; LLM error answers,
which a TCP proxy cannot forge, use the stand-in's control API when the LLM is ours.
"""

from harness.chaos.faults.bandwidth import BandwidthFault
from harness.chaos.faults.base import TOXIC_PREFIX, Fault, parse_rate, toxic_name
from harness.chaos.faults.blackhole import BlackholeFault
from harness.chaos.faults.down import DownFault
from harness.chaos.faults.dynamo_errors import DynamoErrorFault
from harness.chaos.faults.dynamo_timeouts import DynamoTimeoutsFault, parse_burst
from harness.chaos.faults.latency import LatencyFault
from harness.chaos.faults.limit_data import LimitDataFault
from harness.chaos.faults.llm_errors import LlmErrorFault
from harness.chaos.faults.network import STREAMS, ToxicFault
from harness.chaos.faults.our_redis import NotOurRedis
from harness.chaos.faults.redis_flush import RedisFlushFault
from harness.chaos.faults.redis_readonly import RedisReadonlyFault
from harness.chaos.faults.reset_peer import ResetPeerFault
from harness.chaos.faults.slicer import SlicerFault

TOXIC_KINDS: dict[str, type[ToxicFault]] = {
    c.toxic_type: c for c in (ResetPeerFault, BandwidthFault, SlicerFault, LimitDataFault)}
"""The stream faults ``--toxic`` and experiment files can name, by Toxiproxy toxic type."""

TARGETS = ("dynamodb", "redis", "llm")


def parse_toxic(spec: str, toxicity: float = 1.0) -> ToxicFault:
    """``TARGET:KIND[=VALUE][@STREAM]``, e.g. ``dynamodb:reset_peer``, ``redis:bandwidth=5@downstream``."""
    head, _, stream = spec.partition("@")
    target, sep, rest = head.partition(":")
    kind, _, value = rest.partition("=")
    if not sep or target not in TARGETS or kind not in TOXIC_KINDS:
        raise ValueError(f"invalid --toxic {spec!r}: use TARGET:KIND, optionally =VALUE and @STREAM, with "
                         f"TARGET one of {', '.join(TARGETS)} and KIND one of {', '.join(TOXIC_KINDS)}")
    if stream and stream not in STREAMS:
        raise ValueError(f"invalid --toxic {spec!r}: the stream is upstream or downstream, not {stream!r}")
    number = -1
    if value:
        text = value.removesuffix(TOXIC_KINDS[kind].unit)
        if not text.isdigit():
            raise ValueError(f"invalid --toxic {spec!r}: {kind}'s value is a whole number of "
                             f"{TOXIC_KINDS[kind].unit}")
        number = int(text)
        if number <= 0 and kind != "reset_peer":
            raise ValueError(f"invalid --toxic {spec!r}: {kind}'s value must be above 0")
    return TOXIC_KINDS[kind](target, number, stream, toxicity)


__all__ = [
    "STREAMS", "TARGETS", "TOXIC_KINDS", "TOXIC_PREFIX", "BandwidthFault", "BlackholeFault", "DownFault",
    "DynamoErrorFault", "DynamoTimeoutsFault", "Fault", "LatencyFault", "LimitDataFault", "LlmErrorFault",
    "NotOurRedis", "RedisFlushFault", "RedisReadonlyFault", "ResetPeerFault", "SlicerFault", "ToxicFault",
    "parse_burst", "parse_rate", "parse_toxic", "toxic_name",
]
