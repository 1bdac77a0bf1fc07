"""Several fog processes share a region through $share subscriptions: nothing counted twice."""

from __future__ import annotations

import time
from dataclasses import replace

import redis

from fog_node.aggregates import RegionAggregates
from nevoa_core.calendar import Calendar
from nevoa_core.kinds import Kind
from nevoa_core.periods import Step
from nevoa_stack.services import Service
from tests.integration.fog_support import (
    fog_config,
    raw_publish,
    reading_message,
    running_node,
    water_readings,
)
from tests.support import wait_until

METERS, PER_METER = 100, 30


def test_shared_subscription_workers_store_each_reading_once(
        session_broker: Service, session_redis: object, redis_client: redis.Redis,
        region: str) -> None:
    base = fog_config(region, session_broker.host, session_broker.port,
                      session_redis.url, shared_group="fog")  # type: ignore[attr-defined]
    start = Calendar().parse_period("day:2026-11-20").start_epoch + 3600  # every reading that day
    readings = [r for m in range(METERS)
                for r in water_readings(f"m{m:03d}", PER_METER, start, step=60, per_step=0.5)]
    with running_node(replace(base, client_id=f"fog-{region}-a")) as a, \
            running_node(replace(base, client_id=f"fog-{region}-b")) as b:
        raw_publish(session_broker.host, session_broker.port,
                    [reading_message(region, r) for r in readings], window=500)
        wait_until(lambda: a.store.stats()["stored"] == len(readings), timeout=60,
                   what="every reading stored")
        time.sleep(0.5)  # anything still in flight would show as a duplicate
        stats = a.store.stats()
        shares = (a.metrics.stored, b.metrics.stored)
    assert stats["duplicates"] == 0 and stats["stale"] == 0
    assert sum(shares) == len(readings) and min(shares) > 0, shares
    # each meter's readings were split between the workers, yet its consumption is exact
    day = Calendar().period_containing(Step.DAY, readings[-1].time)
    aggregates = RegionAggregates(redis_client, region)
    top = aggregates.top(Kind.WATER, day, METERS)
    assert len(top) == METERS and {c for _, c in top} == {(PER_METER - 1) * 0.5}
    assert aggregates.stats(Kind.WATER, day).total == METERS * (PER_METER - 1) * 0.5
