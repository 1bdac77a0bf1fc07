"""Money and quantities as Decimal, with one rounding rule.

Registers arrive as floats; they are turned into Decimal through their shortest
``repr`` so that 12.3 stays 12.3 and not 12.300000000000000710542735760100185871124267578125.
Amounts are rounded to the cent, half up (the convention of utility bills), once, at
the end of each invoice line.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
QUANTITY_STEP = Decimal("0.001")


def to_decimal(value: float | int | str | Decimal) -> Decimal:
    if isinstance(value, Decimal):
        return value
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def round_money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def round_quantity(quantity: Decimal) -> Decimal:
    return quantity.quantize(QUANTITY_STEP, rounding=ROUND_HALF_UP)
