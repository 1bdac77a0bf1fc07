"""The ingest script (fog_node/record_readings.lua) against the one consumption rule
(nevoa_core.consumption.link), figure by figure, on a real Redis.

Hypothesis draws a few meters' readings by seq (times moving forward in steps from a
second to nine days, across local hour, day and month boundaries of DST zones; registers
that grow, wrap past the 5-digit modulus and sometimes drop), sends them in order and in
an arrival order with late readings and duplicates, in batches, and compares what the
fog keeps with a brute force built on nevoa_core alone: every link's ``link(previous,
current)`` goes to the local hour, day and month of its later reading.

Compared exactly (consumption and registers as Wh or L, i.e. floats rounded to 3
decimals): every hourly and daily rollup point (start, consumption, register that ended
it), every meter's day and month consumption in the rankings (membership included: a
meter ranks in a period iff it has a reading in it), the region totals and meter counts,
what ``record()`` counted (stored, duplicates, no stale, no conflict), and the VEE flags.

Flags: for the in-order arrival the tamper, spike, gap and stuck counts must be those of
the reference; for a late arrival the tamper, spike and gap counts too. A link between two
readings that are not consecutive by seq (the ones between them still to come) can look
like tampering when the consecutive ones are not: 91,000 -> 99,000 -> 9,000 -> 15,000 kWh
is growth, a rollover and growth, but 91,000 -> 15,000 (seq 1 then seq 4) is a drop that
does not reach the bottom of the register. The script takes back the events of the link a
late reading splits, so the counts end as the in-order ones. The stuck run is judged in
seq order of arrival by design (nevoa_core.vee): not compared for late arrivals.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise

import redis
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fog_node.aggregates import RegionAggregates
from fog_node.config import Retention
from fog_node.rollups import Point, Rollups
from fog_node.store import IngestBatch, RecordResult, RegionStore
from nevoa_core.calendar import Calendar
from nevoa_core.clock import FixedClock
from nevoa_core.consumption import link, modulus_milli
from nevoa_core.kinds import Kind
from nevoa_core.periods import Step
from nevoa_core.senml import Reading
from nevoa_core.vee import STUCK_AFTER, is_spike, stuck_step

DAY = 86_400
HOUR_WINDOW = 31 * DAY  # the most Rollups gives per hourly request
# nothing expires while an example runs: no reading is stale
LONG = Retention(raw=400 * DAY, hourly=400 * DAY, daily=400 * DAY,
                 top_day=400 * DAY, top_month=400 * DAY)
M = modulus_milli()  # 100,000 kWh or m3 in Wh or L

# (zone, a boundary): month ends, DST days of 23 and 25 hours, a skipped midnight, a leap
# day; meters start on it or up to a few hours before or after it
ANCHORS = [
    ("America/New_York", "2026-11-01T00:00:00-04:00"),  # October is over; a 25-hour day
    ("America/New_York", "2026-11-01T01:00:00-05:00"),  # 01:00-02:00 again (06:00 UTC)
    ("America/New_York", "2026-03-08T03:00:00-04:00"),  # 02:00 on 8 March is skipped
    ("America/Sao_Paulo", "2026-12-01T00:00:00-03:00"),  # 03:00 UTC: December, at last
    ("America/Sao_Paulo", "2018-11-04T01:00:00-02:00"),  # 4 November 2018 starts at 01:00
    ("America/Sao_Paulo", "2019-02-16T23:00:00-03:00"),  # 16 February 2019 had 25 hours
    ("Europe/Lisbon", "2026-10-25T01:00:00+00:00"),  # 01:00-02:00 again, +1 then 0
    ("UTC", "2028-02-29T00:00:00+00:00"),  # a leap day
]
_calendars: dict[str, Calendar] = {}


def calendar_of(zone: str) -> Calendar:
    if zone not in _calendars:
        _calendars[zone] = Calendar(zone)
    return _calendars[zone]


@dataclass(frozen=True)
class Case:
    zone: str
    readings: list[Reading]  # every meter's, unique by (meter, seq)
    in_order: list[list[Reading]]  # batches: by seq, each duplicate after its original
    late: list[list[Reading]]  # batches: some readings late, duplicates anywhere
    duplicates: int

    def __repr__(self) -> str:  # what a failing example shows: short and replayable
        cal = calendar_of(self.zone)
        rows = "\n".join(f"    {r.meter} seq={r.seq} t={r.time!r} ({cal.iso(r.time)}) "
                         f"{r.kind.label} reg={r.register!r} rate={r.rate!r}"
                         for r in self.readings)
        late = [[f"{r.meter}#{r.seq}" for r in b] for b in self.late]
        in_order = [[f"{r.meter}#{r.seq}" for r in b] for b in self.in_order]
        return (f"Case(zone={self.zone!r}, duplicates={self.duplicates}\n{rows}\n"
                f"  in_order={in_order}\n  late={late})")


# seconds from one reading to the next (or any number of milliseconds up to two days)
STEP_SECONDS = [1, 15, 59, 60, 900, 1799, 1800, 3599, 3600, 3601, 5400, 7200,
                5 * 3600, 13 * 3600, DAY, DAY + 1, 2 * DAY, 9 * DAY]  # 9 days: silent meter


@st.composite
def meter_readings(draw: st.DrawFn, meter: str, start: float) -> list[Reading]:
    kind = draw(st.sampled_from(Kind))
    n = draw(st.integers(min_value=1, max_value=20))
    seq = draw(st.sampled_from([1, 2, 120, 126]))  # 120, 126: across a raw block boundary
    # mostly on a quarter hour (every UTC offset change falls on one), so that readings
    # fall on local hours, midnights and the offset changes themselves
    t = start + draw(st.one_of(st.sampled_from([0, -900, -1800, -3600, -5400, -7200]),
                               st.integers(-12, 12).map(lambda q: q * 900),
                               st.integers(-3 * 3600, 3 * 3600)))
    register = draw(st.one_of(
        st.sampled_from([0, 1, M // 2, 9 * M // 10 - 1, 9 * M // 10, 9 * M // 10 + 1,
                         M - 2_000_000, M - 1]),
        st.integers(0, M - 1)))
    flowing = 400.0 if kind is Kind.ELECTRICITY else 0.001  # W, m3/s: moves it in 9 s, 1 s
    rates = st.sampled_from([None, None, 0.0, flowing])
    # an honest meter only grows and wraps; another sometimes goes backwards; a stuck one
    # mostly repeats its register while it reports a rate
    moves = ["same", "small", "small", "small", "small", "large", "large", "large"]
    mode = draw(st.sampled_from(["honest", "tampering", "stuck"]))
    if mode == "tampering":
        moves += ["drop", "top", "top", "bottom", "bottom", "bottom"]
    elif mode == "stuck":
        moves, rates = ["same", "same", "same", "small"], st.sampled_from([flowing, flowing, None])
    readings = [Reading(meter, seq, t, kind, register / 1000, draw(rates))]
    for _ in range(n - 1):
        seq += draw(st.sampled_from([1, 1, 1, 1, 2, 4]))  # sometimes a gap
        t += draw(st.one_of(st.sampled_from(STEP_SECONDS),
                            st.integers(1, 2 * DAY * 1000).map(lambda ms: ms / 1000)))
        how = draw(st.sampled_from(moves))
        if how == "small":
            register = (register + draw(st.integers(1, 5_000_000))) % M  # up to 5 %
        elif how == "large":  # up to 10 %: a wrap from above 90 % is a rollover
            register = (register + draw(st.integers(5_000_000, M // 10 - 1))) % M
        elif how == "drop" and register > 0:  # backwards: tamper (or a rollover, by chance)
            register = draw(st.integers(0, register - 1))
        elif how == "top":  # to either side of 90 % of the register, or its last value
            register = draw(st.sampled_from([9 * M // 10 - 1, 9 * M // 10, 9 * M // 10 + 1,
                                             M - 1]))
        elif how == "bottom":  # to the bottom of the register: a rollover from the top only
            register = draw(st.sampled_from([0, M // 10 - 1, M // 10, M // 10 + 1]))
        readings.append(Reading(meter, seq, t, kind, register / 1000, draw(rates)))
    return readings


def batches_of(ordered: list[Reading], cuts: Iterable[int]) -> list[list[Reading]]:
    bounds = sorted({0, len(ordered), *(c % (len(ordered) + 1) for c in cuts)})
    return [ordered[a:b] for a, b in pairwise(bounds) if b > a]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    zone, text = draw(st.sampled_from(ANCHORS))
    start = datetime.fromisoformat(text).timestamp()
    n_meters = draw(st.integers(1, 3))
    readings = [r for i in range(n_meters)
                for r in draw(meter_readings(f"m{i}", start))]
    readings.sort(key=lambda r: (r.time, r.meter))
    # the same reading sent twice (or three times)
    dups = draw(st.lists(st.integers(0, len(readings) - 1), max_size=6))
    items = [(i, r) for i, r in enumerate(readings)] + [(i, readings[i]) for i in dups]
    noise = draw(st.lists(st.floats(0, 1), min_size=len(items), max_size=len(items)))
    # late: how far a reading may arrive after its place (0: in order; 1,000: anywhere)
    scale = draw(st.sampled_from([0.0, 2.5, 8.0, 1000.0]))
    in_order_keys = [i + (0.5 + 5 * x if k >= len(readings) else 0.0)
                     for k, ((i, _), x) in enumerate(zip(items, noise, strict=True))]
    late_keys = [i + scale * x for (i, _), x in zip(items, noise, strict=True)]
    cuts = draw(st.lists(st.integers(0, len(items)), max_size=4))

    def ordered(keys: list[float]) -> list[Reading]:
        order = sorted(range(len(items)), key=lambda k: keys[k])
        return [items[k][1] for k in order]

    return Case(zone, readings, batches_of(ordered(in_order_keys), cuts),
                batches_of(ordered(late_keys), cuts), len(dups))


# --- the reference: nevoa_core only -------------------------------------------------------
@dataclass
class MeterReference:
    kind: Kind
    hours: dict[tuple[int, int], int] = field(default_factory=dict)  # (day, slot) -> milli
    hour_register: dict[tuple[int, int], float] = field(default_factory=dict)
    days: dict[int, int] = field(default_factory=dict)
    day_register: dict[int, float] = field(default_factory=dict)
    months: dict[str, int] = field(default_factory=dict)
    tamper: int = 0
    spike: int = 0
    missing: int = 0
    stuck: int = 0


def reference(case: Case) -> dict[str, MeterReference]:
    cal = calendar_of(case.zone)
    by_meter: dict[str, list[Reading]] = defaultdict(list)
    for r in case.readings:
        by_meter[r.meter].append(r)
    out = {}
    for meter, rs in by_meter.items():
        rs.sort(key=lambda r: r.seq)
        ref = MeterReference(rs[0].kind)
        # every reading puts its hour, day and month in the rollups and rankings (even at 0)
        for r in rs:
            hour = cal.hour_slot(r.time)
            ref.hours.setdefault(hour, 0)
            ref.days.setdefault(hour[0], 0)
            ref.months.setdefault(cal.day_label(hour[0])[:7], 0)
            ref.hour_register[hour] = ref.day_register[hour[0]] = r.register  # the last wins
        run = 0
        for prev, cur in pairwise(rs):
            step = link(prev.register, cur.register)
            used = int(step.consumed.scaleb(3))
            hour = cal.hour_slot(cur.time)
            ref.hours[hour] += used
            ref.days[hour[0]] += used
            ref.months[cal.day_label(hour[0])[:7]] += used
            ref.tamper += step.tampered
            event("links: " + ("tamper" if step.tampered else "rollover" if step.rollover
                               else "growth"))
            if cal.hour_slot(prev.time) != hour:
                event("a link across local hours" if hour[0] == cal.hour_slot(prev.time)[0]
                      else "a link across local days")
            ref.spike += is_spike(ref.kind, float(step.consumed), cur.time - prev.time)
            before, run = run, stuck_step(run, ref.kind, prev.register, cur.register,
                                          cur.rate, cur.time - prev.time)
            ref.stuck += run == STUCK_AFTER and before != STUCK_AFTER
            if run == STUCK_AFTER and before != STUCK_AFTER:
                event("stuck")
        ref.missing = rs[-1].seq - rs[0].seq + 1 - len(rs)
        out[meter] = ref
    return out


def units(n_milli: int) -> float:
    return round(n_milli / 1000, 3)


def rounded(points: list[Point] | None) -> list[tuple[float, float, float | None]]:
    assert points is not None
    return [(p.start, round(p.consumption, 3),
             None if p.register is None else round(p.register, 3)) for p in points]


# --- the comparison ---------------------------------------------------------------------
def check_region(client: redis.Redis, region: str, case: Case,
                 refs: dict[str, MeterReference], results: list[RecordResult],
                 in_order: bool) -> None:
    cal = calendar_of(case.zone)
    assert sum(r.stored for r in results) == len(case.readings)
    assert sum(r.duplicates for r in results) == case.duplicates
    assert sum(r.stale for r in results) == 0 and sum(r.conflicts for r in results) == 0

    first_day = min(cal.day_number(r.time) for r in case.readings)
    last_day = max(cal.day_number(r.time) for r in case.readings)
    span_start, span_end = cal.day_start(first_day), cal.day_start(last_day + 1)
    rollups = Rollups(client, region, cal)
    store = RegionStore(client, region, LONG, cal)
    for meter, ref in refs.items():
        hours: list[Point] = []
        for a in range(int(span_start), int(span_end), HOUR_WINDOW):
            found = rollups.points(meter, Step.HOUR, a, min(a + HOUR_WINDOW, span_end))
            assert found is not None
            hours += found
        expected_hours = [(cal.slot_start(d, s), units(used), round(ref.hour_register[d, s], 3))
                          for (d, s), used in sorted(ref.hours.items())]
        assert rounded(hours) == expected_hours, (meter, "hourly")
        days = rollups.points(meter, Step.DAY, span_start, span_end)
        expected_days = [(cal.day_start(d), units(used), round(ref.day_register[d], 3))
                         for d, used in sorted(ref.days.items())]
        assert rounded(days) == expected_days, (meter, "daily")

        summary = store.summary(meter)
        assert summary is not None
        flags = summary.flags
        assert flags.missing == ref.missing, (meter, "gap")
        if in_order:
            assert (flags.tamper, flags.spike, flags.stuck) == (
                ref.tamper, ref.spike, ref.stuck), (meter, "flags")
        else:  # a late reading takes back the events of the link it splits
            assert (flags.tamper, flags.spike) == (ref.tamper, ref.spike), (meter, "flags")

    aggregates = RegionAggregates(client, region)
    labels = {cal.day_label(d) for d in range(first_day, last_day + 1)}
    periods = [cal.parse_period_label(Step.DAY, label) for label in sorted(labels)] + [
        cal.parse_period_label(Step.MONTH, m) for m in sorted({label[:7] for label in labels})]
    for kind in Kind:
        meters = sorted(m for m, ref in refs.items() if ref.kind is kind)
        for period in periods:
            ranked: dict[str, int] = {}
            for m in meters:
                ref = refs[m]
                if period.step is Step.DAY:
                    day = cal.day_number(period.start_epoch)
                    if day in ref.days:
                        ranked[m] = ref.days[day]
                elif period.label in ref.months:
                    ranked[m] = ref.months[period.label]
            if meters:
                each = aggregates.consumption(kind, period, meters)
                assert each == {m: units(ranked[m]) if m in ranked else None
                                 for m in meters}, (kind, period.name)
            top = aggregates.top(kind, period, 10)
            assert top == sorted(((m, units(v)) for m, v in ranked.items()),
                                 key=lambda mv: (-mv[1], mv[0])), (kind, period.name, "top")
            stats = aggregates.stats(kind, period)
            assert (stats.meters, stats.total) == (
                len(ranked), units(sum(ranked.values()))), (kind, period.name, "stats")


def _describe(case: Case) -> None:
    """What an example exercised (pytest --hypothesis-show-statistics)."""
    cal = calendar_of(case.zone)
    seen: set[tuple[str, int]] = set()
    late = False
    for batch in case.late:
        for r in batch:
            latest = max((s for m, s in seen if m == r.meter), default=-1)
            late = late or r.seq < latest
            seen.add((r.meter, r.seq))
    event(f"late arrival: {late}")
    event(f"duplicates: {min(case.duplicates, 1)}+")
    days = {cal.day_number(r.time) for r in case.readings}
    lengths = {round((cal.day_start(d + 1) - cal.day_start(d)) / 3600) for d in days}
    event(f"readings on days of {sorted(lengths)} hours")
    span = max(r.time for r in case.readings) - min(r.time for r in case.readings)
    event(f"span over 31 days: {span > HOUR_WINDOW}")
    months = {cal.day_label(d)[:7] for d in days}
    event(f"months: {len(months)}")


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cases())
def test_the_ingest_script_keeps_the_figures_of_the_one_consumption_rule(
        redis_client: redis.Redis, case: Case) -> None:
    refs = reference(case)
    _describe(case)
    cal = calendar_of(case.zone)
    now = max(r.time for r in case.readings) + 60
    for batches, in_order in ((case.in_order, True), (case.late, False)):
        region = f"p{uuid.uuid4().hex[:10]}"
        store = RegionStore(redis_client, region, LONG, cal, FixedClock(now))
        results = [store.record(IngestBatch(readings=b)) for b in batches]
        check_region(redis_client, region, case, refs, results, in_order)
