"""The fog node's local calendar on real Redis: the ingest script places readings in the
utility's local hours, days and months exactly as :class:`nevoa_core.calendar.Calendar`
does with zoneinfo, DST days included (23 and 25 hours)."""

from __future__ import annotations

from datetime import datetime

import pytest
import redis

from fog_node.aggregates import RegionAggregates
from fog_node.config import Retention
from fog_node.rollups import Rollups
from fog_node.store import IngestBatch, RegionStore
from nevoa_core.calendar import Calendar
from nevoa_core.clock import FixedClock
from nevoa_core.kinds import Kind
from nevoa_core.periods import Step
from nevoa_core.senml import Reading

LONG = Retention(raw=400 * 86400, hourly=400 * 86400, daily=400 * 86400,
                 top_day=400 * 86400, top_month=400 * 86400)


def store_for(client: redis.Redis, region: str, calendar: Calendar, now: float) -> RegionStore:
    return RegionStore(client, region, LONG, calendar, FixedClock(now))


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


# (zone, a local day around a transition, how many hours it has)
DAYS = [
    ("America/New_York", "2026-03-08", 23), ("America/New_York", "2026-11-01", 25),
    ("Europe/Lisbon", "2026-03-29", 23), ("Europe/Lisbon", "2026-10-25", 25),
    ("America/Sao_Paulo", "2018-11-04", 23),  # the midnight itself was skipped
    ("America/Sao_Paulo", "2019-02-16", 25),
    ("America/Sao_Paulo", "2028-02-29", 24),
]


@pytest.mark.parametrize(("zone", "day", "hours"), DAYS)
def test_hourly_and_daily_rollups_follow_the_local_day(
        redis_client: redis.Redis, region: str, zone: str, day: str, hours: int) -> None:
    calendar = Calendar(zone)
    period = calendar.parse_period(f"day:{day}")
    start = period.start_epoch - 2 * 3600  # from two hours before the day to two after it
    readings = [Reading("m1", i + 1, start + i * 1800, Kind.WATER, 100 + i * 0.5)
                for i in range(2 * (hours + 4) + 1)]  # 0.5 m3 every half hour: 1 m3 per hour
    store = store_for(redis_client, region, calendar, readings[-1].time + 60)
    store.record(IngestBatch(readings=readings))
    rollups = Rollups(redis_client, region, calendar)
    points = rollups.points("m1", Step.HOUR, period.start_epoch, period.end_epoch)
    assert points is not None
    assert [p.start for p in points] == [period.start_epoch + h * 3600 for h in range(hours)]
    assert {p.consumption for p in points} == {1.0}
    # days that start in the range: this one, and the next (which has 2 h of readings and
    # the link that ends at its midnight)
    days = rollups.points("m1", Step.DAY, period.start_epoch - 1, period.end_epoch + 1)
    assert days is not None
    after = calendar.period_containing(Step.DAY, period.end_epoch)
    assert [(p.start, p.consumption) for p in days] == [
        (period.start_epoch, float(hours)), (after.start_epoch, 2.5)]
    ranking = RegionAggregates(redis_client, region).top(Kind.WATER, period, 1)
    assert ranking == [("m1", float(hours))]


@pytest.mark.parametrize("late", [False, True], ids=["in-order", "late"])
def test_readings_late_on_the_last_day_of_a_month_stay_in_that_month(
        redis_client: redis.Redis, region: str, late: bool) -> None:
    """22:00 and 23:30 in Sao Paulo on 30 November are 01:00 and 02:30 UTC on 1 December:
    they belong to November, on the 30th, in the rollups and the rankings."""
    calendar = Calendar()
    readings = [Reading("m1", 1, at("2026-11-30T20:00:00-03:00"), Kind.ELECTRICITY, 10.0),
                Reading("m1", 2, at("2026-11-30T22:00:00-03:00"), Kind.ELECTRICITY, 12.5),
                Reading("m1", 3, at("2026-11-30T23:30:00-03:00"), Kind.ELECTRICITY, 14.0),
                Reading("m1", 4, at("2026-12-01T00:30:00-03:00"), Kind.ELECTRICITY, 15.0)]
    store = store_for(redis_client, region, calendar, readings[-1].time + 60)
    order = [readings[0], readings[3], readings[2], readings[1]] if late else readings
    for r in order:
        store.record(IngestBatch(readings=[r]))
    aggregates = RegionAggregates(redis_client, region)
    november = calendar.parse_period("month:2026-11")
    december = calendar.parse_period("month:2026-12")
    assert aggregates.top(Kind.ELECTRICITY, november, 1) == [("m1", 4.0)]
    assert aggregates.top(Kind.ELECTRICITY, december, 1) == [("m1", 1.0)]
    last_day = calendar.parse_period("day:2026-11-30")
    assert aggregates.top(Kind.ELECTRICITY, last_day, 1) == [("m1", 4.0)]
    days = Rollups(redis_client, region, calendar).points(
        "m1", Step.DAY, november.start_epoch, december.end_epoch)
    assert days is not None
    assert [(calendar.iso(p.start), p.consumption) for p in days] == [
        ("2026-11-30T00:00:00-03:00", 4.0), ("2026-12-01T00:00:00-03:00", 1.0)]


def test_the_same_readings_in_two_zones_land_on_different_local_days(
        redis_client: redis.Redis) -> None:
    t = at("2026-11-30T23:30:00-03:00")  # 02:30 UTC on 1 December
    readings = [Reading("m1", 1, t - 600, Kind.WATER, 1.0), Reading("m1", 2, t, Kind.WATER, 3.0)]
    for zone, label in (("America/Sao_Paulo", "2026-11-30"), ("UTC", "2026-12-01")):
        calendar, region = Calendar(zone), f"z{zone.replace('/', '')}"
        store_for(redis_client, region, calendar, t + 60).record(IngestBatch(readings=readings))
        day = calendar.parse_period(f"day:{label}")
        assert RegionAggregates(redis_client, region).top(Kind.WATER, day, 1) == [("m1", 2.0)]
