"""Helpers for the fog node's integration tests: a fast raw publisher, a node in-process."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace

import redis

from fog_node.config import FogConfig
from fog_node.node import FogNode
from nevoa_core import topics
from nevoa_core.kinds import Kind
from nevoa_core.senml import Reading, encode_pack
from nevoa_stack.raw_publish import publish_all


def raw_publish(host: str, port: int, messages: Sequence[tuple[str, bytes]],
                window: int = 10_000, retain: bool = False) -> None:
    """Publish QoS 1 and wait for every PUBACK: the messages are in the broker."""
    publish_all(host, port, messages, window, retain, client_id="test-pub")


def reading_message(region: str, reading: Reading) -> tuple[str, bytes]:
    return topics.reading(region, reading.meter), encode_pack(reading.meter, [reading])


def water_readings(meter: str, count: int, start: float, step: float = 15.0,
                   per_step: float = 0.01, first_seq: int = 1, register: float = 100.0,
                   rate: float | None = None) -> list[Reading]:
    return [Reading(meter, first_seq + i, start + i * step, Kind.WATER,
                    round(register + i * per_step, 3), rate) for i in range(count)]


def fog_config(region: str, broker_host: str, broker_port: int, redis_url: str,
               **overrides: object) -> FogConfig:
    config = FogConfig(region=region, broker_host=broker_host, broker_port=broker_port,
                       redis_url=redis_url, client_id=f"fog-{region}", judge_interval=0.2)
    return replace(config, **overrides)  # type: ignore[arg-type]


@contextmanager
def running_node(config: FogConfig, timeout: float = 10.0) -> Iterator[FogNode]:
    client = redis.Redis.from_url(config.redis_url, decode_responses=True)
    node = FogNode(config, client)
    node.start()
    try:
        if not node.ingestor.connected.wait(timeout):
            raise AssertionError("the fog node did not connect to the broker")
        yield node
    finally:
        node.stop()
        client.close()
