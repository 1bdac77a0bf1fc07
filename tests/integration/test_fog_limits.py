"""Limits that must never lose or wedge anything: one packet size for broker and fog,
and a reconnect back-off that starts over after every session that was up."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
import pytest
import redis
from paho.mqtt.enums import CallbackAPIVersion

from nevoa_core import topics
from nevoa_core.senml import MAX_PACKET_BYTES, MAX_PAYLOAD_BYTES
from nevoa_stack.services import Service
from tests.integration.fog_support import (
    fog_config,
    raw_publish,
    reading_message,
    running_node,
    water_readings,
)
from tests.support import wait_until


def publish_one(broker: Service, topic: str, payload: bytes) -> tuple[bool, bool]:
    """(acknowledged, disconnected) for one QoS 1 message."""
    events: list[str] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="limit-test",
                         protocol=mqtt.MQTTv5)
    client.on_publish = lambda *_a: events.append("puback")
    client.on_disconnect = lambda *_a: events.append("disconnected")
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1)
        wait_until(lambda: events, timeout=10, what="a PUBACK or a disconnect")
        time.sleep(0.2)
    finally:
        client.loop_stop()
        client.disconnect()
    return "puback" in events, "disconnected" in events


def test_one_size_limit_nothing_acknowledged_is_dropped_for_the_fog(
        service_factory: Callable[..., Service], session_redis: object,
        redis_client: redis.Redis, region: str) -> None:
    broker = service_factory("mosquitto")
    config = fog_config(region, broker.host, broker.port,
                        session_redis.url)  # type: ignore[attr-defined]
    topic = topics.reading(region, "big")
    with running_node(config) as node:
        # larger than any broker accepts: refused, never acknowledged (the sender keeps it)
        acked, dropped = publish_one(broker, topic, b"[" + b" " * MAX_PACKET_BYTES + b"]")
        assert (acked, dropped) == (False, True)
        # accepted by the broker, over the pack limit: it reaches the fog, refused, counted
        acked, _ = publish_one(broker, topic, b"[" + b" " * (MAX_PAYLOAD_BYTES + 10) + b"]")
        assert acked
        good = water_readings("good", 5, time.time() - 600)
        raw_publish(broker.host, broker.port, [reading_message(region, r) for r in good])
        wait_until(lambda: node.store.stats()["stored"] == 5, what="the good readings")
        wait_until(lambda: node.store.stats()["rejected"].get("malformed") == 1,
                   what="the oversized pack counted")


def test_the_fog_reconnects_at_once_after_every_broker_blip(
        service_factory: Callable[..., Service], session_redis: object,
        redis_client: redis.Redis, region: str, caplog: pytest.LogCaptureFixture) -> None:
    """Five restarts of the broker, then a sixth: the fog's first retry still comes after
    the shortest delay (the back-off restarts after each session that was up)."""
    broker = service_factory("mosquitto")
    config = fog_config(region, broker.host, broker.port,
                        session_redis.url)  # type: ignore[attr-defined]
    caplog.set_level(logging.WARNING, logger="nevoa.fog.mqtt")
    with running_node(config) as node:
        for blip in range(6):
            broker.stop()
            wait_until(lambda: not node.ingestor.connected.is_set(), what="the loss seen")
            broker.start()
            wait_until(node.ingestor.connected.is_set, timeout=20,
                       what=f"reconnected after blip {blip + 1}")
        good = water_readings("after", 3, time.time() - 600)
        raw_publish(broker.host, broker.port, [reading_message(region, r) for r in good])
        wait_until(lambda: node.store.stats()["stored"] == 3, what="ingest after the blips")
    losses = [r.getMessage() for r in caplog.records if "lost or refused" in r.getMessage()]
    first_retries = [m for m in losses if "connection" in m and "retrying in 0.5s" in m]
    assert len(first_retries) >= 6, losses
