"""Invoices: pricing a period's consumption under a tariff, line by line, and paying.

Rounding (one rule, in this order):

1. consumption is rounded to 0.001 of its unit, half up;
2. each charge line (minimum, band, energy, fixed, flag) is ``quantity x unit price``
   rounded to the cent, half up;
3. the subtotal is the sum of the rounded charge lines;
4. each tax is ``subtotal x rate`` rounded to the cent, half up;
5. the total is the subtotal plus the rounded taxes — no further rounding, so the lines
   always add up to the total printed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from nevoa_core.money import round_money, round_quantity, to_decimal
from nevoa_core.periods import Period
from nevoa_core.tariffs import ElectricityTariff, Flag, Tariff, TieredTariff

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    code: str  # minimum | band | flat | fixed | energy | flag | tax
    description: str
    amount: Decimal
    quantity: Decimal | None = None
    unit: str | None = None
    unit_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Bill:
    tariff: str
    consumption: Decimal
    unit: str
    flag: Flag | None
    lines: tuple[InvoiceLine, ...]
    subtotal: Decimal
    taxes: Decimal
    total: Decimal


def _charge(code: str, description: str, quantity: Decimal, unit: str,
            unit_price: Decimal) -> InvoiceLine:
    return InvoiceLine(code, description, round_money(quantity * unit_price), quantity, unit,
                       unit_price)


def _fmt(q: Decimal) -> str:
    return f"{q.normalize():f}"


def _tiered_lines(t: TieredTariff, consumption: Decimal) -> list[InvoiceLine]:
    lines = [InvoiceLine(
        "minimum", f"minimum charge, up to {_fmt(t.minimum_block)} {t.unit}",
        round_money(t.minimum_charge), min(consumption, t.minimum_block), t.unit)]
    floor = t.minimum_block
    for band in t.bands:
        above = consumption - floor
        if above <= 0:
            break
        width = above if band.up_to is None else min(above, band.up_to - floor)
        label = (f"above {_fmt(floor)} {t.unit}" if band.up_to is None
                 else f"{_fmt(floor)}-{_fmt(band.up_to)} {t.unit}")
        lines.append(_charge("band", label, width, t.unit, band.price))
        if band.up_to is None:
            break
        floor = band.up_to
    return lines


def _electricity_lines(t: ElectricityTariff, consumption: Decimal,
                       flag: Flag) -> list[InvoiceLine]:
    lines = [
        InvoiceLine("fixed", "fixed charge", round_money(t.fixed_charge)),
        _charge("energy", "energy", consumption, t.unit, t.price_per_unit),
    ]
    surcharge = t.flag_surcharges.get(flag, ZERO)
    if surcharge > 0:
        lines.append(_charge("flag", f"{flag.value} flag surcharge", consumption, t.unit,
                             surcharge))
    return lines


def price(tariff: Tariff, consumption: Decimal | float | int,
          flag: Flag = Flag.GREEN) -> Bill:
    """Price ``consumption`` (in the tariff's unit) under ``tariff`` and the month's flag."""
    used = round_quantity(max(to_decimal(consumption), ZERO))
    if isinstance(tariff, TieredTariff):
        lines = _tiered_lines(tariff, used)
    elif isinstance(tariff, ElectricityTariff):
        lines = _electricity_lines(tariff, used, flag)
    else:
        lines = [_charge("flat", "consumption", used, tariff.unit, tariff.rate)]
    subtotal = sum((line.amount for line in lines), ZERO)
    taxes = [InvoiceLine("tax", tax.name, round_money(subtotal * tax.rate), subtotal, None,
                         tax.rate) for tax in tariff.taxes]
    tax_total = sum((line.amount for line in taxes), ZERO)
    return Bill(tariff.name, used, tariff.unit,
                flag if isinstance(tariff, ElectricityTariff) else None,
                (*lines, *taxes), subtotal, tax_total, subtotal + tax_total)


class InvoiceStatus(StrEnum):
    OPEN = "open"
    PAID = "paid"


class AlreadyPaid(ValueError):
    def __init__(self, invoice_id: str) -> None:
        super().__init__(f"invoice {invoice_id} is already paid")
        self.invoice_id = invoice_id


@dataclass(frozen=True, slots=True)
class Invoice:
    registration: str
    meter: str
    period: Period  # a calendar month in UTC
    bill: Bill
    status: InvoiceStatus
    issued_at: float
    due_at: float
    paid_at: float | None = None

    @property
    def id(self) -> str:
        return invoice_id(self.registration, self.period)

    def pay(self, at: float) -> Invoice:
        if self.status is InvoiceStatus.PAID:
            raise AlreadyPaid(self.id)
        return replace(self, status=InvoiceStatus.PAID, paid_at=at)

    def overdue(self, now: float) -> bool:
        return self.status is InvoiceStatus.OPEN and now > self.due_at


def invoice_id(registration: str, period: Period) -> str:
    return f"{registration}-{period.label}"

