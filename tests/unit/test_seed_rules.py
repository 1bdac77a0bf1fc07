"""The energy seed's invoice and excess-consumption rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from nevoa_core.billing import flat_invoice
from nevoa_core.consumption import NotEnoughReadings, check_excess, periods


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


def test_a_register_going_backwards_is_not_billed_negative() -> None:
    assert flat_invoice(50.0, 40.0, Decimal("3")).amount == Decimal("0.00")


def test_periods_are_differences_oldest_first() -> None:
    assert periods([0, 10, 25]) == [Decimal(10), Decimal(15)]


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
