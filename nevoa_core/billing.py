"""Invoices. The energy seed's rule: consumption of the last period times a flat rate."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from nevoa_core.money import round_money, round_quantity, to_decimal

DEFAULT_FLAT_RATE = Decimal("3")


@dataclass(frozen=True, slots=True)
class FlatInvoice:
    previous_register: Decimal
    last_register: Decimal
    consumption: Decimal
    rate: Decimal
    amount: Decimal


def flat_invoice(
    previous_register: float | Decimal, last_register: float | Decimal, rate: Decimal
) -> FlatInvoice:
    """Invoice the period between two register readings at a flat rate per unit.

    A register that went backwards (tamper, rollover) is never billed as negative
    consumption: the period is billed as zero and flagged elsewhere.
    """
    previous = to_decimal(previous_register)
    last = to_decimal(last_register)
    consumption = round_quantity(max(last - previous, Decimal(0)))
    return FlatInvoice(previous, last, consumption, rate, round_money(consumption * rate))
