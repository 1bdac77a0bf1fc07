"""The one consumption rule (nevoa_core.consumption.link), by its properties.

Registers are drawn as whole milli-units (Wh or L) turned into the float a meter sends,
as the wire format carries them; the modulus is the 5-digit register's.
"""

from __future__ import annotations

from decimal import Decimal
from itertools import accumulate, pairwise

from hypothesis import given
from hypothesis import strategies as st

from nevoa_core.billing import flat_invoice
from nevoa_core.consumption import link, milli, modulus_milli, periods, total
from nevoa_core.kinds import REGISTER_MODULUS
from nevoa_core.money import round_money, to_decimal

M = modulus_milli()
RATE = Decimal("3")

# anything the wire format lets through (non-negative), including registers a 5-digit
# counter cannot show
milli_registers = st.integers(min_value=0, max_value=3 * M)
registers = milli_registers.map(lambda m: m / 1000)
any_floats = st.floats(min_value=0, max_value=3 * REGISTER_MODULUS, allow_nan=False)
# what one reading adds to the register: less than 10 % of the modulus, so a wrap is seen
steps = st.integers(min_value=0, max_value=M // 10 - 1)


def units(n_milli: int) -> Decimal:
    return Decimal(n_milli) / 1000


def test_the_modulus_in_milli_units() -> None:
    assert M == 100_000_000


@given(st.integers(min_value=0, max_value=10 * M))
def test_milli_gives_back_the_milli_units_a_register_was_sent_in(n: int) -> None:
    assert milli(n / 1000) == n
    assert milli(Decimal(n) / 1000) == n


@given(any_floats)
def test_milli_of_a_float_and_of_its_decimal_agree(x: float) -> None:
    assert milli(x) == milli(to_decimal(x))


@given(any_floats, any_floats)
def test_consumption_is_never_negative_and_has_three_decimals(a: float, b: float) -> None:
    c = link(a, b).consumed
    assert c >= 0
    assert c.as_tuple().exponent == -3


@given(any_floats, any_floats)
def test_a_link_is_exactly_one_of_growth_rollover_tamper(a: float, b: float) -> None:
    result = link(a, b)
    grew = milli(b) >= milli(a)
    assert grew + result.rollover + result.tampered == 1
    if grew:
        assert result.consumed == units(milli(b) - milli(a))
    if result.tampered:
        assert result.consumed == 0


@given(registers, registers)
def test_a_rollover_only_happens_from_the_top_of_the_register_to_its_bottom(
    a: float, b: float
) -> None:
    result = link(a, b)
    if result.rollover:
        assert 0.9 * M < milli(a) < M and milli(b) < 0.1 * M
        assert result.consumed == units(milli(b) + M - milli(a))
        assert 0 < result.consumed < units(2 * M // 10)  # under 10 % + 10 % of the register


@given(st.integers(min_value=0, max_value=3 * M), st.lists(steps, max_size=30))
def test_the_links_of_a_rising_register_sum_to_last_minus_first(
    first: int, increments: list[int]
) -> None:
    rs = [m / 1000 for m in accumulate(increments, initial=first)]
    assert total(rs) == units(milli(rs[-1]) - milli(rs[0]))
    assert sum(periods(rs), Decimal(0)) == total(rs)
    assert not any(link(a, b).tampered or link(a, b).rollover for a, b in pairwise(rs))


@given(st.integers(min_value=0, max_value=M - 1), st.lists(steps, max_size=60))
def test_a_5_digit_register_that_wraps_still_counts_all_its_consumption(
    first: int, increments: list[int]
) -> None:
    true = list(accumulate(increments, initial=first))
    shown = [m % M / 1000 for m in true]  # what the meter's 5-digit display sends
    assert total(shown) == units(true[-1] - true[0])
    assert not any(link(a, b).tampered for a, b in pairwise(shown))


@given(st.integers(min_value=M * 9 // 10 + 1, max_value=M - 1),
       st.integers(min_value=0, max_value=M // 10 - 1))
def test_the_seed_invoice_across_a_rollover_bills_what_was_used(
    before_wrap: int, after_wrap: int
) -> None:
    wrapped = flat_invoice(before_wrap / 1000, after_wrap / 1000, RATE)
    unwrapped = flat_invoice(before_wrap / 1000, (after_wrap + M) / 1000, RATE)
    assert wrapped.consumption == unwrapped.consumption == units(after_wrap + M - before_wrap)
    assert wrapped.consumption > 0
    assert wrapped.amount == unwrapped.amount == round_money(wrapped.consumption * RATE)


@given(registers, registers)
def test_a_drop_that_is_no_rollover_is_billed_zero_and_flagged(a: float, b: float) -> None:
    result = link(a, b)
    if milli(b) < milli(a) and not result.rollover:
        assert result.tampered
        assert flat_invoice(a, b, RATE).amount == Decimal("0.00")


@given(registers, registers)
def test_the_invoice_is_the_link_times_the_rate(a: float, b: float) -> None:
    invoice = flat_invoice(a, b, RATE)
    assert invoice.consumption == link(a, b).consumed
    assert invoice.amount == round_money(invoice.consumption * RATE)
    assert invoice.amount >= 0


def test_the_rollover_bounds_are_strict_as_in_the_ingest_script() -> None:
    assert link(90_000.001, 9_999.999).rollover
    assert link(90_000.0, 5.0).tampered  # not above 90 % of the modulus
    assert link(99_000.0, 10_000.0).tampered  # not below 10 % of it
    assert link(100_000.0, 5.0).tampered  # a 5-digit register never shows 100,000
    assert link(99_999.999, 0.0) == link(99_999.999, 0.0004)  # both are 0 Wh: 1 Wh used
    assert link(99_999.999, 0.0).consumed == Decimal("0.001")
