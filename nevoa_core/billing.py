"""Invoices. The energy seed's rule: consumption of the last period times a flat rate."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from nevoa_core.consumption import link
from nevoa_core.money import round_money, to_decimal

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
    """Invoice the period between two consecutive register readings at a flat rate per unit.

    The consumption is :func:`nevoa_core.consumption.link`'s, the one rule: a register
    that wrapped past its modulus is billed through it (new + modulus - old); one that
    went backwards otherwise (tamper) is billed as zero, never negative, and flagged by
    the fog node.
    """
    previous = to_decimal(previous_register)
    last = to_decimal(last_register)
    consumption = link(previous_register, last_register).consumed
    return FlatInvoice(previous, last, consumption, rate, round_money(consumption * rate))
