"""Fault injection: kill -9 the fog node mid-stream, kill -9 Redis mid-stream, Redis out
of memory mid-stream.

Either way every reading ends up stored exactly once: the broker keeps what was not
acknowledged in the fog's persistent session, Redis (AOF written before it replies,
fsync every second) keeps what was, and the store's idempotence by (meter, seq)
absorbs the redeliveries.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from fog_node.api import create_app
from fog_node.store import RegionStore
from nevoa_stack.processes import ChildProcess, free_port
from nevoa_stack.services import Service
from tests.integration.fog_support import (
    fog_config,
    raw_publish,
    reading_message,
    running_node,
    water_readings,
)
from tests.support import wait_until

pytestmark = pytest.mark.slow
METERS, PER_METER = 200, 100


def stream(region: str) -> list[tuple[str, bytes]]:
    start = time.time() - 2 * 86_400
    by_meter = [water_readings(f"m{m:03d}", PER_METER, start, step=60, per_step=0.25)
                for m in range(METERS)]
    # interleaved as a live fleet would send them
    return [reading_message(region, rs[i]) for i in range(PER_METER) for rs in by_meter]


def assert_stored_exactly_once(store: RegionStore) -> None:
    stats = store.stats()
    assert stats["stored"] == METERS * PER_METER and stats["meters"] == METERS
    for m in range(0, METERS, 7):
        seqs = [r.seq for r in store.history(f"m{m:03d}", PER_METER + 5)]
        assert seqs == list(range(1, PER_METER + 1))


def stored(store: RegionStore) -> int:
    """How many readings are stored; 0 while Redis is down or loading its data."""
    try:
        return int(store.stats()["stored"])
    except redis.RedisError:
        return 0


def publish_in_background(broker: Service, messages: list[tuple[str, bytes]]) -> threading.Thread:
    thread = threading.Thread(target=raw_publish, args=(broker.host, broker.port, messages),
                              kwargs={"window": 2000}, daemon=True)
    thread.start()
    return thread


def fog_process(tmp_path: Path, region: str, broker: Service, redis_url: str) -> ChildProcess:
    return ChildProcess("fog", [
        sys.executable, "-m", "fog_node", "--region", region, "--broker-host", broker.host,
        "--broker-port", str(broker.port), "--redis-url", redis_url, "--http-port",
        str(free_port()), "--client-id", f"fog-{region}", "--batch-size", "500",
    ], tmp_path / "fog.log")


def test_kill_9_of_the_fog_node_loses_and_doubles_nothing(
        tmp_path: Path, service_factory: Callable[..., Service], session_redis: object,
        redis_client: redis.Redis, region: str) -> None:
    broker = service_factory("mosquitto")
    redis_url = session_redis.url  # type: ignore[attr-defined]
    store = RegionStore(redis_client, region)
    fog = fog_process(tmp_path, region, broker, redis_url)
    fog.start()
    try:
        wait_until(lambda: "subscribed" in fog.tail(40), what="the fog node's subscription")
        publisher = publish_in_background(broker, stream(region))
        wait_until(lambda: store.stats()["stored"] >= METERS * PER_METER // 5, timeout=60,
                   every=0.01, what="a fifth of the stream stored")
        fog.kill()
        killed_at = store.stats()["stored"]
        assert killed_at < METERS * PER_METER, "killed too late to test anything"
        publisher.join(120)
        fog.start()
        wait_until(lambda: store.stats()["stored"] == METERS * PER_METER, timeout=120,
                   what=f"the rest stored after the restart ({killed_at} before)")
        time.sleep(1)
    finally:
        fog.stop()
    assert_stored_exactly_once(store)


def test_kill_9_of_redis_loses_nothing_acknowledged(
        service_factory: Callable[..., Service], session_broker: Service, region: str) -> None:
    redis_service = service_factory("redis", durable=True)
    url = redis_service.url  # type: ignore[attr-defined]
    config = fog_config(region, session_broker.host, session_broker.port, url, batch_size=500)
    with running_node(config) as node:
        publisher = publish_in_background(session_broker, stream(region))
        wait_until(lambda: node.store.stats()["stored"] >= METERS * PER_METER // 5, timeout=60,
                   every=0.01, what="a fifth of the stream stored")
        redis_service.kill()
        time.sleep(1.0)  # the writer keeps retrying, nothing is acknowledged meanwhile
        redis_service.start()
        publisher.join(120)
        wait_until(lambda: stored(node.store) == METERS * PER_METER, timeout=120,
                   what="every reading stored")
        assert node.metrics.redis_errors > 0
        assert_stored_exactly_once(node.store)


def test_redis_out_of_memory_pauses_ingest_and_loses_nothing(
        service_factory: Callable[..., Service], session_broker: Service, region: str) -> None:
    """Redis at maxmemory refuses writes (OOM, even inside the ingest script): the fog
    stops acknowledging, says so on /health and in a metric, keeps the backlog in the
    broker, and stores every reading once memory is back."""
    redis_service = service_factory("redis")
    url = redis_service.url  # type: ignore[attr-defined]
    admin = redis.Redis.from_url(url, decode_responses=True)
    config = fog_config(region, session_broker.host, session_broker.port, url, batch_size=500)
    with running_node(config) as node:
        api = create_app(node.services()).test_client()
        messages = stream(region)
        raw_publish(session_broker.host, session_broker.port, messages[:2000])
        wait_until(lambda: stored(node.store) == 2000, what="the first readings stored")
        used = int(admin.info("memory")["used_memory"])
        admin.config_set("maxmemory-policy", "noeviction")
        admin.config_set("maxmemory", str(used // 2))  # full: every write refused
        publisher = publish_in_background(session_broker, messages[2000:])
        wait_until(lambda: api.get("/health").status_code == 503, timeout=30,
                   what="/health degraded")
        health = api.get("/health").get_json()
        assert health["ingest"]["reason"] == "out_of_memory", health
        paused_at = stored(node.store)
        time.sleep(2)  # paused: nothing more is stored, nothing acknowledged
        assert stored(node.store) == paused_at < METERS * PER_METER
        metrics = api.get("/metrics").get_data(as_text=True)
        assert f'nevoa_fog_store_faults_total{{region="{region}",fault="out_of_memory"}}' \
            in metrics and f'nevoa_fog_ingest_paused{{region="{region}"}} 1' in metrics
        admin.config_set("maxmemory", "0")
        publisher.join(120)
        wait_until(lambda: stored(node.store) == METERS * PER_METER, timeout=120,
                   what="every reading stored once memory is back")
        assert api.get("/health").status_code == 200
        assert node.store.stats()["rejected_total"] == 0
        assert_stored_exactly_once(node.store)
    admin.close()
