"""The energy seed's invoice and excess-consumption rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from nevoa_core.billing import flat_invoice
from nevoa_core.consumption import Link, NotEnoughReadings, check_excess, link, milli, periods


def test_invoice_is_last_period_times_rate() -> None:
    inv = flat_invoice(100.0, 160.0, Decimal("3"))
    assert inv.consumption == Decimal("60.000")
    assert inv.amount == Decimal("180.00")


def test_invoice_keeps_decimal_precision_of_float_registers() -> None:
    inv = flat_invoice(0.1, 0.3, Decimal("3"))
    assert inv.consumption == Decimal("0.200")
    assert inv.amount == Decimal("0.60")


def test_invoice_rounds_half_up_to_the_cent() -> None:
    assert flat_invoice(0, 0.005, Decimal("1")).amount == Decimal("0.01")


def test_a_register_going_backwards_is_tamper_billed_zero_never_negative() -> None:
    inv = flat_invoice(50.0, 40.0, Decimal("3"))
    assert (inv.consumption, inv.amount) == (Decimal("0.000"), Decimal("0.00"))
    assert link(50.0, 40.0) == Link(Decimal("0.000"), tampered=True, rollover=False)


def test_a_register_rollover_is_billed_through_the_modulus() -> None:
    # a 5-digit register: 99,990 -> 100,000 (shown 0) -> 15 is 25 units, not 0
    inv = flat_invoice(99_990.0, 15.0, Decimal("3"))
    assert inv.consumption == Decimal("25.000")
    assert inv.amount == Decimal("75.00")
    assert (inv.previous_register, inv.last_register) == (Decimal("99990.0"), Decimal("15.0"))
    assert link(99_990.0, 15.0) == Link(Decimal("25.000"), tampered=False, rollover=True)


def test_a_rollover_keeps_the_milli_units_exact() -> None:
    assert flat_invoice(99_999.999, 0.001, Decimal("3")).consumption == Decimal("0.002")
    assert flat_invoice(99_999.5, 0.25, Decimal("2")).amount == Decimal("1.50")


def test_a_drop_from_above_the_modulus_is_tamper_not_rollover() -> None:
    # 500,000 cannot be shown by a 5-digit register: the drop is not a wrap
    inv = flat_invoice(500_000.0, 5_000.0, Decimal("3"))
    assert (inv.consumption, inv.amount) == (Decimal("0.000"), Decimal("0.00"))
    assert link(500_000.0, 5_000.0).tampered


def test_a_drop_that_does_not_reach_the_bottom_of_the_register_is_tamper() -> None:
    assert link(95_000.0, 20_000.0).tampered  # from the top, but not to below 10 %
    assert link(50_000.0, 100.0).tampered  # to the bottom, but not from above 90 %
    assert flat_invoice(95_000.0, 20_000.0, Decimal("3")).amount == Decimal("0.00")


def test_consumption_is_counted_in_exact_milli_units() -> None:
    assert milli(0.1) == 100 and milli(0.3) == 300 and milli(Decimal("0.3")) == 300
    assert milli(0.0005) == 1 and milli(0.0004) == 0  # half up, at the last digit
    assert link(0.1, 0.3).consumed == Decimal("0.200")  # not 0.19999999999999998
    assert str(link(0.1, 0.3).consumed) == "0.200"
    # each register is rounded to its milli-unit first, as the fog node does
    assert link(0.0004, 0.0006).consumed == Decimal("0.001")


def test_periods_are_links_oldest_first() -> None:
    assert periods([0, 10, 25]) == [Decimal(10), Decimal(15)]
    assert periods([99_990, 15, 10, 30]) == [Decimal(25), Decimal(0), Decimal(20)]


def test_excess_counts_a_rollover_period_and_never_sees_a_negative_one() -> None:
    # periods 10, 10, 10, 30 with the register wrapping in the newest one
    check = check_excess([99_950, 99_960, 99_970, 99_980, 10])
    assert check.excessive and check.newest_period == Decimal("30.000")
    # a tamper period is 0, not -40: an idle-looking newest period is never excessive
    tampered = check_excess([0, 10, 20, 30, 40, 0])
    assert not tampered.excessive and tampered.newest_period == Decimal("0.000")
    # periods 10, 0 (tamper), 10, 10: the baseline is 20 / 3, not (10 - 5 + 10) / 3
    assert check_excess([0, 10, 5, 15, 25]).baseline_mean == Decimal("6.667")


def test_excess_when_newest_period_reaches_one_and_a_half_times_the_mean() -> None:
    check = check_excess([0, 10, 20, 30, 60])  # periods 10, 10, 10, 30
    assert check.excessive
    assert check.baseline_mean == Decimal("10.000")
    assert check.excess == Decimal("20.000")


def test_exactly_one_and_a_half_times_is_excessive() -> None:
    assert check_excess([0, 10, 20, 30, 45]).excessive


def test_just_below_the_threshold_is_not() -> None:
    check = check_excess([0, 10, 20, 30, 44.9])
    assert not check.excessive
    assert check.excess == Decimal(0)


def test_only_the_five_latest_readings_count() -> None:
    assert not check_excess([0, 1000, 1010, 1020, 1030, 1040]).excessive


def test_an_idle_meter_is_not_excessive() -> None:
    assert not check_excess([5, 5, 5, 5, 5]).excessive


def test_too_few_readings_says_how_many_are_needed() -> None:
    with pytest.raises(NotEnoughReadings) as caught:
        check_excess([1, 2, 3])
    assert (caught.value.needed, caught.value.available) == (5, 3)
