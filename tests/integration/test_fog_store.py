"""The ingest script on a real Redis: exact whatever the arrival order, flags, retention."""

from __future__ import annotations

import itertools
import random

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fog_node.aggregates import RegionAggregates
from fog_node.config import Retention
from fog_node.keys import RAW_BLOCK, RegionKeys
from fog_node.rollups import Rollups
from fog_node.store import IngestBatch, RegionStore
from nevoa_core.calendar import Calendar
from nevoa_core.kinds import Kind
from nevoa_core.periods import Step
from nevoa_core.senml import Reading

T0 = 1_763_607_600.0  # 2025-11-20T00:00-03:00, midnight in the default calendar (Sao Paulo)
CALENDAR = Calendar()
_regions = itertools.count()


def store_for(client: redis.Redis, region: str) -> RegionStore:
    return RegionStore(client, region, Retention(raw=3600, hourly=7200, daily=10_800,
                                                 top_day=14_400, top_month=18_000))


def water(meter: str, seq: int, t: float, register: float, rate: float | None = None) -> Reading:
    return Reading(meter, seq, t, Kind.WATER, register, rate)


def snapshot(client: redis.Redis, region: str) -> dict[str, object]:
    """Every aggregate the ingest keeps (zero-valued consumption fields aside: a late
    reading may move a share out of a period and leave a 0 behind)."""
    out: dict[str, object] = {}
    for key in client.scan_iter(f"nv:{{{region}}}:*"):
        kind = client.type(key)
        short = key.split(":", 2)[2]
        if kind == "stream":
            continue
        if ":raw:" in key:  # records in arrival order: compare them as a set
            out[short] = sorted(client.get(key).split(";"))
            continue
        if kind == "hash":
            fields = client.hgetall(key)
            if short.startswith("m:") and ":" not in short[2:]:
                # the latest reading and the open hour; not the flags, which count events
                # as they were seen (a late reading may show a gap that fills later)
                out[short] = (fields.get("last", "").split(" ")[:5],
                              fields.get("live", "").split(" ")[3:])
            else:
                out[short] = {k: v for k, v in fields.items() if not (v == "0" and k[-1] != "r")}
        elif kind == "zset":
            out[short] = client.zrange(key, 0, -1, withscores=True)
        elif kind == "set":
            out[short] = sorted(client.smembers(key))
    return out


@st.composite
def arrivals(draw: st.DrawFn) -> tuple[list[Reading], list[list[Reading]]]:
    """A meter's readings across hours and days, and the same in some arrival order."""
    n = draw(st.integers(min_value=2, max_value=24))
    first_seq = draw(st.sampled_from([1, 120]))  # 120: crosses a raw block boundary
    t, register, readings = T0 + draw(st.floats(0, 80_000)), 50.0, []
    for i in range(n):
        t += draw(st.sampled_from([15.0, 900.0, 3600.0, 30_000.0]))
        register = round(register + draw(st.sampled_from([0.0, 0.001, 0.25, 3.0])), 3)
        if draw(st.booleans()) and i and draw(st.integers(0, 9)) == 0:
            register = round(register - 1.0, 3)  # tamper
        rate = draw(st.sampled_from([None, 0.0, 0.01]))
        readings.append(water("m1", first_seq + i, t, register, rate))
    order = draw(st.permutations(readings))
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=4)))
    batches = [list(order[a:b]) for a, b in zip([0, *cuts], [*cuts, n], strict=True)]
    return readings, [b for b in batches if b]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(arrivals())
def test_any_arrival_order_gives_the_in_order_aggregates(
        redis_client: redis.Redis, case: tuple[list[Reading], list[list[Reading]]]) -> None:
    readings, batches = case
    in_order, shuffled = f"a{next(_regions)}", f"b{next(_regions)}"
    store_for(redis_client, in_order).record(IngestBatch(readings=readings), now=T0)
    store = store_for(redis_client, shuffled)
    results = [store.record(IngestBatch(readings=b), now=T0) for b in batches]
    assert sum(r.stored for r in results) == len(readings)
    expected = snapshot(redis_client, in_order)
    found = snapshot(redis_client, shuffled)
    assert found == expected


def test_duplicates_in_and_across_batches_are_counted_not_stored(redis_client: redis.Redis,
                                                                region: str) -> None:
    store = store_for(redis_client, region)
    rs = [water("m1", s, T0 + 15 * s, 1.0 + s) for s in range(1, 6)]
    assert store.record(IngestBatch(readings=rs + rs[:2])).duplicates == 2
    again = store.record(IngestBatch(readings=rs))
    assert (again.stored, again.duplicates) == (0, 5)
    assert store.stats()["stored"] == 5 and store.stats()["duplicates"] == 7


def test_flags_tamper_spike_and_gap_then_the_gap_fills(redis_client: redis.Redis,
                                                       region: str) -> None:
    store = store_for(redis_client, region)
    store.record(IngestBatch(readings=[water("m1", 1, T0, 10.0), water("m1", 2, T0 + 15, 9.0),
                                       water("m1", 3, T0 + 30, 500.0),
                                       water("m1", 6, T0 + 75, 500.5)]))
    flags = store.summary("m1").flags  # type: ignore[union-attr]
    assert (flags.tamper, flags.spike, flags.missing) == (1, 1, 2)
    store.record(IngestBatch(readings=[water("m1", 4, T0 + 45, 500.1),
                                       water("m1", 5, T0 + 60, 500.2)]))
    assert store.summary("m1").flags.missing == 0  # type: ignore[union-attr]


def test_a_meter_id_of_the_other_kind_is_refused(redis_client: redis.Redis, region: str) -> None:
    store = store_for(redis_client, region)
    store.record(IngestBatch(readings=[water("m1", 1, T0, 1.0)]))
    other = Reading("m1", 2, T0 + 15, Kind.ELECTRICITY, 2.0)
    assert store.record(IngestBatch(readings=[other])).conflicts == 1
    assert store.stats()["rejected"] == {"kind_conflict": 1}


def test_a_late_reading_whose_neighbours_expired_is_stale_not_counted_twice(
        redis_client: redis.Redis, region: str) -> None:
    store = store_for(redis_client, region)
    rs = [water("m1", s, T0 + s, 1.0 + s / 100) for s in range(1, 3 * RAW_BLOCK)]
    store.record(IngestBatch(readings=rs))
    keys = RegionKeys(region)
    assert redis_client.ttl(keys.raw("m1", 0)) > 0 and redis_client.ttl(keys.raw("m1", 2)) == -1
    redis_client.delete(keys.raw("m1", 0), keys.raw("m1", 1))  # as if expired
    before = redis_client.hgetall(keys.totals)
    result = store.record(IngestBatch(readings=[rs[10], rs[300]]))
    assert (result.stale, result.stored) == (1, 0) and result.duplicates == 1
    assert redis_client.hgetall(keys.totals) == before


def test_raw_readings_and_summaries_stay_compact_and_everything_expires(redis_client: redis.Redis,
                                                         region: str) -> None:
    store = store_for(redis_client, region)
    rs = [water("m1", s, T0 + 15 * s, 1.0 + s / 100, 0.001) for s in range(1, 300)]
    store.record(IngestBatch(readings=rs))
    keys = RegionKeys(region)
    assert len(redis_client.get(keys.raw("m1", 0))) < 128 * 36  # ~35 bytes a reading
    assert redis_client.object("encoding", keys.meter("m1")) == "listpack"
    assert redis_client.object("encoding", keys.hourly("m1", "2025-11-20")) == "listpack"
    for key in (keys.hourly("m1", "2025-11-20"), keys.top("w", "day", "2025-11-20"),
                keys.top("w", "month", "2025-11"), keys.raw("m1", 1)):
        assert redis_client.ttl(key) > 0, key
    assert [r.seq for r in store.history("m1", 200)] == list(range(100, 300))
    between = store.readings_between("m1", T0 + 15 * 10, T0 + 15 * 20, 100)
    assert [r.seq for r in between] == list(range(10, 20))
    assert between[0] == rs[9]


def test_rollups_close_hours_and_days(redis_client: redis.Redis, region: str) -> None:
    store = store_for(redis_client, region)
    day2 = T0 + 86_400
    rs = [water("m1", 1, T0 + 60, 10.0), water("m1", 2, T0 + 600, 10.5),
          water("m1", 3, T0 + 3660, 11.0), water("m1", 4, day2 + 60, 14.0),
          water("m1", 5, day2 + 120, 14.25)]
    store.record(IngestBatch(readings=rs))
    rollups = Rollups(redis_client, region)
    hours = rollups.points("m1", Step.HOUR, T0, day2 + 3600)
    assert [(p.start - T0, p.consumption, p.register) for p in hours or []] == [
        (0.0, 0.5, 10.5), (3600.0, 0.5, 11.0), (86_400.0, 3.25, 14.25)]
    days = rollups.points("m1", Step.DAY, T0, day2 + 86_400)
    assert [(p.start - T0, p.consumption, p.register) for p in days or []] == [
        (0.0, 1.0, 11.0), (86_400.0, 3.25, 14.25)]


def test_region_ranking_is_exact_with_ties_and_medians(redis_client: redis.Redis,
                                                      region: str) -> None:
    store = store_for(redis_client, region)
    used = {"a": 3.0, "b": 1.5, "c": 3.0, "d": 0.0, "e": 0.001}
    readings = []
    for meter, amount in used.items():
        readings += [water(meter, 1, T0 + 10, 100.0), water(meter, 2, T0 + 20, 100.0 + amount)]
    random.Random(7).shuffle(readings)
    for r in readings:  # one by one, like a live stream
        store.record(IngestBatch(readings=[r]))
    aggregates = RegionAggregates(redis_client, region)
    day = CALENDAR.parse_period("day:2025-11-20")
    assert aggregates.top(Kind.WATER, day, 3) == [("a", 3.0), ("c", 3.0), ("b", 1.5)]
    stats = aggregates.stats(Kind.WATER, day)
    assert (stats.meters, stats.total, stats.mean, stats.median) == (5, 7.501, 1.5, 1.5)
    assert aggregates.stats(Kind.ELECTRICITY, day).meters == 0


@pytest.mark.parametrize("amount", [0.1, 0.2, 0.3])
def test_many_small_increments_do_not_drift(redis_client: redis.Redis, region: str,
                                            amount: float) -> None:
    store = store_for(redis_client, region)
    rs = [water("m1", s, T0 + s, round(1 + s * amount, 3)) for s in range(1, 1001)]
    store.record(IngestBatch(readings=rs))
    day = CALENDAR.parse_period("day:2025-11-20")
    top = RegionAggregates(redis_client, region).top(Kind.WATER, day, 1)
    assert top == [("m1", round(999 * amount, 3))]


def test_rankings_of_a_batch_larger_than_one_write_chunk_are_exact(redis_client: redis.Redis,
                                                                   region: str) -> None:
    # the script writes a ranking in chunks of 1,000 meters: 2,500 meters, 3 readings each,
    # in two batches, the second with each meter twice
    store = store_for(redis_client, region)
    meters = [f"m{i:04d}" for i in range(2500)]
    store.record(IngestBatch(readings=[water(m, 1, T0 + 10, 100.0) for m in meters]))
    second = [water(m, s, T0 + 10 * s, 100.0 + (s - 1) * (i % 7) * 0.5)
              for s in (2, 3) for i, m in enumerate(meters)]
    random.Random(3).shuffle(second)
    assert store.record(IngestBatch(readings=second)).stored == 5000
    aggregates = RegionAggregates(redis_client, region)
    day, month = CALENDAR.parse_period("day:2025-11-20"), CALENDAR.parse_period("month:2025-11")
    for period in (day, month):
        top = aggregates.top(Kind.WATER, period, 2500)
        assert dict(top) == {m: (i % 7) * 1.0 for i, m in enumerate(meters)}
        assert aggregates.stats(Kind.WATER, period).total == sum((i % 7) * 1.0 for i in range(2500))


def test_a_register_rollover_is_consumption_not_tamper_in_any_arrival_order(
        redis_client: redis.Redis) -> None:
    readings = [water("m1", 1, T0 + 60, 99_999.5), water("m1", 2, T0 + 120, 99_999.9),
                water("m1", 3, T0 + 180, 0.25), water("m1", 4, T0 + 240, 0.5)]
    in_order, late = f"a{next(_regions)}", f"b{next(_regions)}"
    store_for(redis_client, in_order).record(IngestBatch(readings=readings))
    store = store_for(redis_client, late)
    store.record(IngestBatch(readings=[readings[0], readings[3]]))
    store.record(IngestBatch(readings=[readings[2], readings[1]]))  # late, across the wrap
    for region in (in_order, late):
        flags = store_for(redis_client, region).summary("m1").flags  # type: ignore[union-attr]
        assert (flags.tamper, flags.spike) == (0, 0), region
        top = RegionAggregates(redis_client, region).top(
            Kind.WATER, CALENDAR.parse_period("day:2025-11-20"), 1)
        assert top == [("m1", 1.0)], region
    assert snapshot(redis_client, late) == snapshot(redis_client, in_order)


def test_a_register_that_does_not_move_while_the_meter_reports_flow_is_stuck(
        redis_client: redis.Redis, region: str) -> None:
    store = store_for(redis_client, region)
    # 0.001 m3/s over 60 s should move the register by 60 L: three repeats in a row
    rs = [water("m1", 1, T0, 10.0, 0.001)] + [
        water("m1", s, T0 + 60 * (s - 1), 10.0, 0.001) for s in range(2, 6)]
    store.record(IngestBatch(readings=rs[:3]))
    assert store.summary("m1").flags.stuck == 0  # type: ignore[union-attr]
    store.record(IngestBatch(readings=rs[3:]))
    flags = store.summary("m1").flags  # type: ignore[union-attr]
    assert flags.stuck == 1 and flags.as_json()["stuck"] is True  # once per run
    # no flow while the register stands still is not stuck; a moving register ends a run
    quiet = [water("m2", s, T0 + 60 * s, 10.0, 0.0) for s in range(1, 8)]
    store.record(IngestBatch(readings=quiet))
    assert store.summary("m2").flags.stuck == 0  # type: ignore[union-attr]
    store.record(IngestBatch(readings=[water("m1", 6, T0 + 300, 10.5, 0.001)]))
    assert store.summary("m1").flags.stuck == 1  # type: ignore[union-attr]


def test_a_status_older_than_the_stored_one_changes_nothing(redis_client: redis.Redis,
                                                            region: str) -> None:
    # two batches in flight (writer threads, $share workers) may arrive out of order
    store = store_for(redis_client, region)
    store.record(IngestBatch(statuses=[("m1", "offline", T0 + 10)]))
    store.record(IngestBatch(statuses=[("m1", "online", T0 + 5)]))
    summary = store.summary("m1")
    assert summary is not None and (summary.status, summary.status_time) == ("offline", T0 + 10)
    assert redis_client.smembers(store.keys.offline) == {"m1"}
    assert not redis_client.smembers(store.keys.online)
    store.record(IngestBatch(statuses=[("m1", "online", T0 + 20)]))
    assert store.summary("m1").status == "online"  # type: ignore[union-attr]


def test_a_batch_with_a_reading_out_of_bounds_is_refused_whole_and_changes_nothing(
        redis_client: redis.Redis, region: str) -> None:
    """The script checks every line before its first write: a value that slipped past
    validation (here built by hand, register 1e12) cannot leave half a batch behind."""
    store = store_for(redis_client, region)
    store.record(IngestBatch(readings=[water("a", 1, T0, 10.0), water("b", 1, T0, 10.0)]))
    before = snapshot(redis_client, region)
    poisoned = [water("a", 2, T0 + 60, 11.0), water("b", 2, T0 + 60, 1e12),
                water("a", 3, T0 + 120, 12.0)]
    with pytest.raises(redis.ResponseError, match="out of bounds"):
        store.record(IngestBatch(readings=poisoned))
    assert snapshot(redis_client, region) == before
    # the sane readings of the same batch go through on their own, exactly
    store.record(IngestBatch(readings=[poisoned[0], poisoned[2]]))
    top = RegionAggregates(redis_client, region).top(Kind.WATER, CALENDAR.parse_period(
        "day:2025-11-20"), 2)
    assert top == [("a", 2.0), ("b", 0.0)]


def test_a_seq_far_ahead_is_refused_and_the_meter_keeps_reporting(
        redis_client: redis.Redis, region: str) -> None:
    store = store_for(redis_client, region)
    store.record(IngestBatch(readings=[water("m1", 1, T0, 10.0), water("m1", 2, T0 + 60, 10.5)]))
    result = store.record(IngestBatch(readings=[water("m1", 2**53 - 1, T0 + 120, 11.0)]))
    assert (result.stored, result.seq_jumps) == (0, 1)
    assert store.stats()["rejected"] == {"seq_jump": 1}
    later = store.record(IngestBatch(readings=[water("m1", 3, T0 + 180, 11.5)]))
    assert (later.stored, later.stale) == (1, 0)
    assert store.summary("m1").latest.seq == 3  # type: ignore[union-attr]


def test_a_register_far_below_the_modulus_after_a_high_one_is_tamper_not_rollover(
        redis_client: redis.Redis, region: str) -> None:
    store = store_for(redis_client, region)
    store.record(IngestBatch(readings=[water("m1", 1, T0, 50_000.0),
                                       water("m1", 2, T0 + 60, 5_000.0),
                                       water("m1", 3, T0 + 120, 5_001.0)]))
    flags = store.summary("m1").flags  # type: ignore[union-attr]
    assert flags.tamper == 1
    top = RegionAggregates(redis_client, region).top(
        Kind.WATER, CALENDAR.parse_period("day:2025-11-20"), 1)
    assert top == [("m1", 1.0)]  # the drop counts 0, never negative
