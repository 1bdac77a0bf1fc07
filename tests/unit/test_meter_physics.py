"""The physics of simulated meters, with fixed seeds: curves, tendencies, kinds, valve."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from statistics import mean

import pytest

from meter.draws import Draws, new_seed
from meter.model import SimulatedMeter
from meter.physics import (
    ELECTRICITY_CURVE,
    WATER_CURVE,
    Physics,
    ScriptedConsumption,
    SeedConsumption,
    Tendency,
)
from nevoa_core.kinds import Kind
from nevoa_core.senml import Reading, decode_pack, encode_pack

KEY = new_seed(42)
DAY0 = datetime(2026, 11, 2, 3, 0, tzinfo=UTC).timestamp()  # 00:00 at UTC-3
INTERVAL = 900.0


def run(meter: SimulatedMeter, hours: float, interval: float = INTERVAL) -> list[Reading]:
    readings = []
    for k in range(int(hours * 3600 / interval) + 1):
        r = meter.read(DAY0 + k * interval)
        assert r is not None
        readings.append(r)
    return readings


def periods(readings: list[Reading]) -> list[float]:
    return [b.register - a.register for a, b in itertools.pairwise(readings)]


def local_hour(r: Reading) -> float:
    return ((r.time - DAY0) / 3600) % 24


def test_daily_curves_have_mean_one_low_nights_and_two_peaks() -> None:
    for curve in (ELECTRICITY_CURVE, WATER_CURVE):
        assert curve.integral(0, 86_400, 0.0) == pytest.approx(86_400)
        assert curve.integral(DAY0, DAY0 + 7 * 86_400, -3) == pytest.approx(7 * 86_400)
        night = max(curve.at(h) for h in (1, 2, 3, 4))
        assert curve.at(7.5) > 2 * night and curve.at(19.5) > 2 * night
        assert curve.at(7.5) > curve.at(14) < curve.at(19.5)  # two peaks


def test_a_seeded_meter_gives_the_same_readings_every_time() -> None:
    def fresh() -> SimulatedMeter:
        return SimulatedMeter("r1-e000001", Kind.ELECTRICITY, Physics(), register=100.0,
                              key=KEY)
    assert run(fresh(), 24) == run(fresh(), 24)
    other = SimulatedMeter("r1-e000001", Kind.ELECTRICITY, Physics(), register=100.0,
                           key=new_seed(43))
    assert run(other, 24) != run(fresh(), 24)


@pytest.mark.parametrize("kind", list(Kind))
def test_tendencies_order_consumption(kind: Kind) -> None:
    def week_total(tendency: Tendency) -> float:
        totals = []
        for n in range(20):
            m = SimulatedMeter(f"r1-x{n:06d}", kind, Physics(), tendency=tendency, key=KEY)
            readings = run(m, 24 * 7, 3600)
            totals.append(readings[-1].register - readings[0].register)
        return mean(totals)

    slow, normal, fast = (week_total(t) for t in (Tendency.SLOW, Tendency.NORMAL, Tendency.FAST))
    assert slow < normal < fast
    assert fast / slow == pytest.approx(4, rel=0.35)


def test_erratic_meters_vary_more_than_normal_ones() -> None:
    def spread(tendency: Tendency) -> float:
        m = SimulatedMeter("r1-e000009", Kind.ELECTRICITY, Physics(), tendency=tendency,
                           key=KEY)
        p = periods(run(m, 24 * 7, 3600))
        ratios = [b / a for a, b in itertools.pairwise(p) if a > 0]
        return mean(abs(r - 1) for r in ratios)
    assert spread(Tendency.ERRATIC) > 2 * spread(Tendency.NORMAL)


def test_electricity_follows_the_daily_curve_and_never_draws_zero_power() -> None:
    m = SimulatedMeter("r1-e000002", Kind.ELECTRICITY, Physics(), key=KEY)
    readings = run(m, 24 * 7)
    assert all(r.rate is not None and r.rate > 0 for r in readings)
    by_hour: dict[int, list[float]] = {}
    for r, p in zip(readings[1:], periods(readings), strict=False):
        by_hour.setdefault(int(local_hour(r)) % 24, []).append(p)
    night = mean(by_hour[3] + by_hour[4])
    evening = mean(by_hour[19] + by_hour[20])
    assert evening > 2.5 * night > 0


def test_a_normal_water_meter_is_mostly_still_at_night_and_flows_by_day() -> None:
    m = SimulatedMeter("r1-w500001", Kind.WATER, Physics(), key=KEY)
    readings = run(m, 24 * 14)
    night = [r for r in readings if 1 <= local_hour(r) < 5]
    assert sum(r.rate == 0 for r in night) / len(night) > 0.95
    night_growth = [p for r, p in zip(readings[1:], periods(readings), strict=False)
                    if 1 <= local_hour(r) < 5]
    assert sum(p == 0 for p in night_growth) / len(night_growth) > 0.8
    day = [r for r in readings if 7 <= local_hour(r) < 9 or 18 <= local_hour(r) < 21]
    assert any(r.rate and r.rate > 0 for r in day)
    daily = (readings[-1].register - readings[0].register) / 14
    assert 0.1 < daily < 1.5  # m3 a day for a household


def test_a_closed_valve_stops_consumption_and_an_open_one_resumes_it() -> None:
    m = SimulatedMeter("r1-e000003", Kind.ELECTRICITY, Physics(), key=KEY)
    run(m, 2)
    m.valve_open = False
    closed = [m.read(DAY0 + 3 * 3600 + k * INTERVAL) for k in range(8)]
    assert {r.register for r in closed if r} == {closed[0].register}  # type: ignore[union-attr]
    assert all(r is not None and r.rate == 0 for r in closed)
    m.valve_open = True
    later = m.read(DAY0 + 6 * 3600)
    assert later is not None and later.register > closed[-1].register  # type: ignore[union-attr]


def test_readings_are_valid_senml_with_strictly_increasing_seq() -> None:
    for kind in Kind:
        m = SimulatedMeter(f"r1-{kind.spec.letter}000004", kind, Physics(),
                           tendency=Tendency.ERRATIC, key=KEY)
        readings = run(m, 48)
        assert [r.seq for r in readings] == list(range(1, len(readings) + 1))
        assert decode_pack(encode_pack(m.meter_id, readings), m.meter_id) == readings


def test_the_seed_profile_adds_zero_to_twenty_units_a_second() -> None:
    m = SimulatedMeter("r1-e000005", Kind.ELECTRICITY, SeedConsumption(), key=KEY)
    readings = run(m, 1, 15)
    for p in periods(readings):
        assert 0 <= p <= 20 * 15
    assert mean(periods(readings)) == pytest.approx(150, rel=0.2)
    assert all(r.rate is None for r in readings)
    long = SeedConsumption().sample(m.traits(), 0, 3600, Draws(KEY, "x", 1))
    assert long.consumed == pytest.approx(36_000, rel=0.05)


def test_scripted_consumption_is_exact_from_the_second_reading() -> None:
    m = SimulatedMeter("r1-e000006", Kind.ELECTRICITY, ScriptedConsumption([10, 10, 30]))
    assert [r.register for r in run(m, 1)] == [0, 10, 20, 50, 50]  # type: ignore[comparison-overlap]


def test_the_fast_single_reading_encoder_writes_what_encode_pack_writes() -> None:
    from meter.wire import encode_reading

    for kind in Kind:
        m = SimulatedMeter(f"r1-{kind.spec.letter}000008", kind, Physics(),
                           tendency=Tendency.ERRATIC, key=KEY)
        for r in run(m, 24, 600):
            assert encode_reading(r) == encode_pack(r.meter, [r])
    odd = Reading("r1-e000001", 2**40, 1_763_600_000, Kind.ELECTRICITY, 5, None)
    assert encode_reading(odd) == encode_pack(odd.meter, [odd])
