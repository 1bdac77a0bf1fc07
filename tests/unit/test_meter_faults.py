"""Each fault, with a fixed seed, produces exactly what the fog node should detect."""

from __future__ import annotations

import itertools

import pytest

from meter.draws import new_seed
from meter.faults import (
    CLOCK_DRIFT_RATE,
    LEAK_FLOW_M3S,
    ROLLOVER_MODULUS,
    Fault,
    FaultOnset,
    rollover_start,
)
from meter.model import SimulatedMeter
from meter.physics import Physics, Tendency
from nevoa_core.kinds import Kind
from nevoa_core.senml import Reading, decode_pack, encode_pack
from tests.unit.test_meter_physics import DAY0, INTERVAL, local_hour, periods

KEY = new_seed(7)


def meter(kind: Kind, *faults: FaultOnset, register: float = 1234.5,
          tendency: Tendency = Tendency.NORMAL) -> SimulatedMeter:
    return SimulatedMeter(f"r1-{kind.spec.letter}000001", kind, Physics(), register=register,
                          tendency=tendency, faults=faults, run_start=DAY0, key=KEY)


def readings(m: SimulatedMeter, hours: float, interval: float = INTERVAL) -> list[Reading]:
    out = []
    for k in range(int(hours * 3600 / interval) + 1):
        r = m.read(DAY0 + k * interval)
        if r is not None:
            out.append(r)
    return out


@pytest.mark.parametrize("tendency", list(Tendency))
def test_a_leaking_water_meter_never_reports_zero_flow_even_at_night(tendency: Tendency) -> None:
    rs = readings(meter(Kind.WATER, FaultOnset(Fault.LEAK), tendency=tendency), 24 * 7)
    assert all(r.rate is not None and r.rate >= LEAK_FLOW_M3S for r in rs)
    night = [p for r, p in zip(rs[1:], periods(rs), strict=False) if 1 <= local_hour(r) < 5]
    # the register shows litres: 4.5 l a period reads as 4 or 5
    assert night and all(p >= LEAK_FLOW_M3S * INTERVAL - 0.001 for p in night)


def test_a_leak_starts_at_its_onset() -> None:
    rs = readings(meter(Kind.WATER, FaultOnset(Fault.LEAK, after=24 * 3600)), 48)
    before = [r for r in rs if r.time < DAY0 + 24 * 3600 and 1 <= local_hour(r) < 5]
    after = [r for r in rs if r.time >= DAY0 + 24 * 3600]
    assert any(r.rate == 0 for r in before)
    assert all(r.rate and r.rate > 0 for r in after)


def test_a_closed_valve_stops_a_leak_too() -> None:
    m = meter(Kind.WATER, FaultOnset(Fault.LEAK))
    m.valve_open = False
    rs = readings(m, 6)
    assert {r.register for r in rs} == {rs[0].register}
    assert all(r.rate == 0 for r in rs)


def test_tamper_makes_the_register_decrease() -> None:
    onset = 6 * 3600
    rs = readings(meter(Kind.ELECTRICITY, FaultOnset(Fault.TAMPER, after=onset)), 24)
    honest = [r for r in rs if r.time < DAY0 + onset]
    tampered = [r for r in rs if r.time >= DAY0 + onset]
    assert all(p > 0 for p in periods(honest))
    assert tampered[0].register < honest[-1].register - 100  # wound back by 10 %
    assert all(p < 0 for p in periods(tampered))  # then runs backwards


def test_a_stuck_register_repeats_while_the_meter_still_sees_consumption() -> None:
    rs = readings(meter(Kind.ELECTRICITY, FaultOnset(Fault.STUCK, after=3600)), 12)
    stuck = [r for r in rs if r.time >= DAY0 + 3600]
    assert len({r.register for r in stuck}) == 1
    assert all(r.rate is not None and r.rate > 0 for r in stuck)


@pytest.mark.parametrize("kind", list(Kind))
def test_rollover_wraps_the_register_to_a_small_value(kind: Kind) -> None:
    m = meter(kind, FaultOnset(Fault.ROLLOVER), register=rollover_start(kind, INTERVAL),
              tendency=Tendency.FAST)
    rs = readings(m, 24)
    drops = [(a, b) for a, b in itertools.pairwise(rs) if b.register < a.register]
    assert len(drops) == 1
    before, after = drops[0]
    assert before.register > ROLLOVER_MODULUS - 10 and after.register < 10
    assert 0 < after.register + ROLLOVER_MODULUS - before.register < 10
    assert all(0 <= r.register < ROLLOVER_MODULUS for r in rs)
    assert decode_pack(encode_pack(m.meter_id, rs)) == rs


def test_rollover_has_no_onset() -> None:
    with pytest.raises(ValueError):
        FaultOnset(Fault.ROLLOVER, after=10)


def test_clock_drift_pulls_reading_times_ahead_ever_more() -> None:
    onset = 3600
    rs = readings(meter(Kind.ELECTRICITY, FaultOnset(Fault.CLOCK_DRIFT, after=onset)), 24)
    skews = [r.time - (DAY0 + k * INTERVAL) for k, r in enumerate(rs)]
    assert all(s == pytest.approx(0, abs=1e-3) for s in skews[: onset // int(INTERVAL)])
    drifting = skews[onset // int(INTERVAL) :]
    assert all(b > a for a, b in itertools.pairwise(drifting))
    assert drifting[-1] == pytest.approx(CLOCK_DRIFT_RATE * (24 * 3600 - onset), rel=1e-3)


def test_a_silent_meter_stops_reporting_but_keeps_counting() -> None:
    m = meter(Kind.ELECTRICITY, FaultOnset(Fault.SILENT, after=2 * 3600))
    rs = readings(m, 6)
    assert rs[-1].time < DAY0 + 2 * 3600
    assert rs[-1].seq == len(rs)
    assert m.register > rs[-1].register


def test_faults_combine() -> None:
    m = meter(Kind.WATER, FaultOnset(Fault.LEAK), FaultOnset(Fault.CLOCK_DRIFT))
    rs = readings(m, 6)
    assert all(r.rate and r.rate > 0 for r in rs)
    assert rs[-1].time > DAY0 + 6 * 3600
