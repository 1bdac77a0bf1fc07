"""Ingest on real Mosquitto and Redis: stored once, duplicates ignored, rejects counted."""

from __future__ import annotations

import time

import pytest
import redis

from fog_node.api import create_app
from fog_node.store import IngestBatch, RecordResult
from nevoa_core import topics
from nevoa_stack.services import Service
from tests.integration.fog_support import (
    fog_config,
    raw_publish,
    reading_message,
    running_node,
    water_readings,
)
from tests.support import wait_until


def test_readings_are_stored_once_and_duplicates_counted(
        session_broker: Service, session_redis: object, redis_client: redis.Redis,
        region: str) -> None:
    config = fog_config(region, session_broker.host, session_broker.port,
                        session_redis.url)  # type: ignore[attr-defined]
    now = time.time() - 3600
    readings = [r for m in range(5) for r in water_readings(f"m{m}", 20, now)]
    with running_node(config) as node:
        raw_publish(session_broker.host, session_broker.port,
                    [reading_message(region, r) for r in readings])
        wait_until(lambda: node.store.stats()["stored"] == 100, what="100 stored")
        raw_publish(session_broker.host, session_broker.port,
                    [reading_message(region, r) for r in readings[:30]])
        wait_until(lambda: node.store.stats()["duplicates"] == 30, what="30 duplicates")
        client = create_app(node.services()).test_client()
        body = client.get("/api/v1/meters/m3/latest").get_json()
    assert node.store.stats()["stored"] == 100
    assert body["reading"]["seq"] == 20 and body["reading"]["register"] == 100.19
    assert body["reading"]["kind"] == "water" and body["flags"]["gap"] is False


def test_bad_payloads_are_rejected_by_reason_while_good_ones_flow(
        session_broker: Service, session_redis: object, redis_client: redis.Redis,
        region: str) -> None:
    config = fog_config(region, session_broker.host, session_broker.port,
                        session_redis.url)  # type: ignore[attr-defined]
    good = water_readings("good", 10, time.time() - 600)
    t, _ = reading_message(region, good[0])
    bad = [
        (t, b"not json"),
        (t, b'{"bn": "urn:dev:mtr:good:"}'),  # not a SenML pack
        (topics.reading(region, "other"), reading_message(region, good[0])[1]),  # bn mismatch
        (t, reading_message(region, good[0])[1].replace(b'"s":100.0', b'"s":-5')),
        (t, b"\xff\xfe garbage"),
    ]
    messages = [reading_message(region, good[0])]
    for r, b in zip(good[1:], bad * 2, strict=False):
        messages += [b, reading_message(region, r)]
    with running_node(config) as node:
        raw_publish(session_broker.host, session_broker.port, messages)
        wait_until(lambda: node.store.stats()["stored"] == 10, what="the good readings")
        wait_until(lambda: node.store.stats()["rejected_total"] == 9, what="9 rejects")
        stats = node.store.stats()
    assert stats["rejected"] == {"malformed": 3, "not_senml": 2, "bn_mismatch": 2,
                                 "bad_value": 2}
    assert stats["duplicates"] == 0


def test_status_messages_count_meters_online_and_offline(
        session_broker: Service, session_redis: object, redis_client: redis.Redis,
        region: str) -> None:
    config = fog_config(region, session_broker.host, session_broker.port,
                        session_redis.url)  # type: ignore[attr-defined]
    statuses = [(topics.status(region, "a"), b"online"), (topics.status(region, "b"), b"online"),
                (topics.status(region, "c"), b"offline"), (topics.status(region, "b"), b"offline")]
    raw_publish(session_broker.host, session_broker.port, statuses, retain=True)
    with running_node(config) as node:
        wait_until(lambda: node.store.stats()["stored"] == 0 and
                   node.store.redis.scard(node.store.keys.offline) == 2, what="statuses")
        client = create_app(node.services()).test_client()
        body = client.get("/api/v1/region/stats?kind=water").get_json()
    assert (body["online"], body["offline"]) == (1, 2)


def test_a_reading_the_store_refuses_is_isolated_and_counted_while_the_rest_flows(
        session_broker: Service, session_redis: object, redis_client: redis.Redis,
        region: str, monkeypatch: pytest.MonkeyPatch) -> None:
    config = fog_config(region, session_broker.host, session_broker.port,
                        session_redis.url)  # type: ignore[attr-defined]
    good = [r for m in ("a", "b", "c") for r in water_readings(m, 10, time.time() - 600)]
    cursed = water_readings("cursed", 1, time.time() - 600)
    with running_node(config) as node:
        record = node.store.record

        def failing_record(batch: IngestBatch, now: float | None = None) -> RecordResult:
            if any(r.meter == "cursed" for r in batch.readings):
                raise redis.ResponseError("user_script:42: attempt to index a nil value")
            return record(batch, now)

        monkeypatch.setattr(node.store, "record", failing_record)
        raw_publish(session_broker.host, session_broker.port,
                    [reading_message(region, r) for r in good[:15] + cursed + good[15:]])
        wait_until(lambda: node.store.stats()["stored"] == 30, what="the other readings")
        wait_until(lambda: node.store.stats()["rejected"].get("store_error") == 1,
                   what="the refused reading counted")
