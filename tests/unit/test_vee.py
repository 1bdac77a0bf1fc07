"""VEE: tamper, spike and gap rules, and how stored flags read."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from meter.faults import ROLLOVER_MODULUS
from nevoa_core.consumption import link, modulus_milli
from nevoa_core.kinds import REGISTER_MODULUS, Kind
from nevoa_core.vee import (
    STUCK_AFTER,
    consumed,
    flags_from_summary,
    is_rollover,
    is_spike,
    is_tamper,
    missing_between,
    spike_limit,
    stuck_step,
)

M = modulus_milli()


def test_spike_limits_follow_the_physical_maximum_rates() -> None:
    assert spike_limit(Kind.WATER) == 10.0  # m3 per second
    assert abs(spike_limit(Kind.ELECTRICITY) - 1e6 / 3.6e6) < 1e-12  # 1 MW in kWh/s


def test_spike_is_consumption_faster_than_possible() -> None:
    assert is_spike(Kind.WATER, 151.0, 15.0)
    assert not is_spike(Kind.WATER, 150.0, 15.0)
    assert is_spike(Kind.WATER, 1.0, 0.0)  # consumption in no time at all
    assert not is_spike(Kind.WATER, 0.0, 0.0)


def test_tamper_and_gap() -> None:
    assert is_tamper(10.0, 9.999) and not is_tamper(10.0, 10.0)
    assert missing_between(5, 9) == 3 and missing_between(5, 6) == 0


def test_flags_read_from_the_summary() -> None:
    flags = flags_from_summary({"vee": "1 3 1 0", "tamper_at": "4>5 register 10.0>9.0",
                                "gap_at": "6>10"})
    assert (flags.tamper, flags.spike, flags.missing) == (1, 0, 3)
    body = flags.as_json()
    assert body["tamper"] and body["gap"] and not body["spike"]
    assert any("4>5" in d for d in body["details"])
    assert not flags_from_summary({}).any


def test_a_wrap_of_the_register_is_a_rollover_not_tamper() -> None:
    assert REGISTER_MODULUS == 100_000.0
    assert is_rollover(99_999.5, 0.25) and not is_tamper(99_999.5, 0.25)
    assert consumed(99_999.5, 0.25) == 0.75  # exact: the rule counts in milli-units
    # a drop that is not from the top of the register to its bottom stays tamper
    assert is_tamper(50_000.0, 100.0) and consumed(50_000.0, 100.0) == 0.0
    assert is_tamper(95_000.0, 20_000.0) and not is_rollover(95_000.0, 20_000.0)
    assert consumed(10.0, 12.5) == 2.5


def test_a_drop_from_above_the_modulus_is_tamper_not_rollover() -> None:
    # a 5-digit register cannot show 500,000: its drop to 5,000 did not wrap
    assert is_tamper(500_000.0, 5_000.0) and not is_rollover(500_000.0, 5_000.0)
    assert consumed(500_000.0, 5_000.0) == 0.0
    assert is_tamper(REGISTER_MODULUS, 0.5)  # the modulus itself is not a register value
    # the bounds are strict: from exactly 90 %, or to exactly 10 %, is tamper
    assert is_tamper(90_000.0, 1.0) and is_rollover(90_000.001, 1.0)
    assert is_tamper(99_000.0, 10_000.0) and is_rollover(99_000.0, 9_999.999)


def test_growth_is_neither_rollover_nor_tamper_and_counts_to_the_milli_unit() -> None:
    assert not is_rollover(10.0, 10.0) and not is_tamper(10.0, 10.0)
    assert consumed(10.0, 10.0) == 0.0
    assert consumed(0.1, 0.3) == 0.2  # not 0.19999999999999998
    assert consumed(1.0, 1.0004) == 0.0  # below half a milli-unit: the same register
    assert not is_tamper(1.0004, 1.0)  # ... so neither is this a drop


@given(st.integers(0, M - 1), st.integers(0, M - 1))
def test_vee_reads_the_one_consumption_rule(a: int, b: int) -> None:
    before, after = a / 1000, b / 1000
    rule = link(before, after)
    assert is_rollover(before, after) == rule.rollover
    assert is_tamper(before, after) == rule.tampered
    assert consumed(before, after) == float(rule.consumed)


def test_the_meter_simulator_wraps_at_the_domain_modulus() -> None:
    assert ROLLOVER_MODULUS == REGISTER_MODULUS  # one fact, stated in nevoa_core.kinds


def test_a_stuck_run_counts_readings_whose_rate_should_have_moved_the_register() -> None:
    run = 0
    for _ in range(STUCK_AFTER):
        run = stuck_step(run, Kind.ELECTRICITY, 12.5, 12.5, 400.0, 900.0)  # 100 Wh expected
    assert run == STUCK_AFTER
    # a rate too small to move the last digit yet neither counts nor breaks the run
    assert stuck_step(2, Kind.ELECTRICITY, 12.5, 12.5, 1.0, 15.0) == 2
    assert stuck_step(2, Kind.WATER, 1.0, 1.0, 0.0, 900.0) == 0  # no flow: not stuck
    assert stuck_step(2, Kind.WATER, 1.0, 1.0, None, 900.0) == 0
    assert stuck_step(2, Kind.WATER, 1.0, 1.001, 0.001, 900.0) == 0  # it moved
    # registers repeat in milli-units, as the ingest script compares them
    assert stuck_step(2, Kind.WATER, 1.0, 1.0000001, 0.001, 900.0) == 3


def test_stuck_flags_read_from_the_summary_old_four_field_summaries_too() -> None:
    old = flags_from_summary({"vee": "1 0 0 0"})
    assert old.stuck == 0 and old.as_json()["stuck"] is False
    flags = flags_from_summary({"vee": "1 0 0 0 2", "stuck_at": "7>8 register 12.5"})
    assert flags.any and flags.as_json()["stuck"] is True
    assert flags.as_json()["counts"]["stuck"] == 2 and "stuck" in flags.details[0]
