"""Invoices: pricing a period's consumption under a tariff, line by line, and paying.

Rounding (one rule, in this order):

1. consumption is rounded to 0.001 of its unit, half up; under a time-of-use tariff each
   post's consumption is, and the invoice's consumption is the sum of the rounded posts;
2. each charge line (minimum, band, energy, peak / intermediate / off_peak, fixed, flag)
   is ``quantity x unit price`` rounded to the cent, half up;
3. the subtotal is the sum of the rounded charge lines;
4. each tax is ``subtotal x rate`` rounded to the cent, half up;
5. the total is the subtotal plus the rounded taxes — no further rounding, so the lines
   always add up to the total printed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from nevoa_core.money import round_money, round_quantity, to_decimal
from nevoa_core.periods import Period
from nevoa_core.tariffs import ElectricityTariff, Flag, Tariff, TieredTariff, TimeOfUseTariff
from nevoa_core.time_of_use import ClockHours, Post

ZERO = Decimal(0)

Quantity = Decimal | float | int
# a number, or under a time-of-use tariff the consumption of each post (missing: zero)
Consumption = Quantity | Mapping[Post, Quantity]

POST_LABELS = {Post.PEAK: "peak energy", Post.INTERMEDIATE: "intermediate energy",
               Post.OFF_PEAK: "off-peak energy"}


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    # minimum | band | flat | fixed | energy | peak | intermediate | off_peak | flag | tax
    code: str
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


def _flag_line(surcharges: Mapping[Flag, Decimal], flag: Flag, consumption: Decimal,
               unit: str) -> list[InvoiceLine]:
    surcharge = surcharges.get(flag, ZERO)
    if surcharge <= 0:
        return []
    return [_charge("flag", f"{flag.value} flag surcharge", consumption, unit, surcharge)]


def _electricity_lines(t: ElectricityTariff, consumption: Decimal,
                       flag: Flag) -> list[InvoiceLine]:
    return [
        InvoiceLine("fixed", "fixed charge", round_money(t.fixed_charge)),
        _charge("energy", "energy", consumption, t.unit, t.price_per_unit),
        *_flag_line(t.flag_surcharges, flag, consumption, t.unit),
    ]


def _windows(windows: tuple[ClockHours, ...]) -> str:
    return " and ".join(str(w) for w in windows)


def _post_description(t: TimeOfUseTariff, post: Post) -> str:
    if post is Post.OFF_PEAK:
        return f"{POST_LABELS[post]}: other hours, weekends and holidays"
    windows = t.schedule.hours_of(post)
    return f"{POST_LABELS[post]}: {_windows(windows) or 'no hours'} on working days"


def _time_of_use_lines(t: TimeOfUseTariff, used: Mapping[Post, Decimal], consumption: Decimal,
                       flag: Flag) -> list[InvoiceLine]:
    return [
        InvoiceLine("fixed", "fixed charge", round_money(t.fixed_charge)),
        *(_charge(post.value, _post_description(t, post), used[post], t.unit, t.prices[post])
          for post in Post),
        *_flag_line(t.flag_surcharges, flag, consumption, t.unit),
    ]


def _rounded(quantity: Quantity) -> Decimal:
    return round_quantity(max(to_decimal(quantity), ZERO))


def price(tariff: Tariff, consumption: Consumption, flag: Flag = Flag.GREEN) -> Bill:
    """Price ``consumption`` (in the tariff's unit) under ``tariff`` and the month's flag.

    A time-of-use tariff takes the consumption of each post (``{Post.PEAK: ...}``, a
    missing post is zero); every other tariff a single number."""
    if isinstance(tariff, TimeOfUseTariff):
        if not isinstance(consumption, Mapping):
            raise TypeError(f"tariff {tariff.name!r} prices consumption per post")
        by_post = {post: _rounded(consumption.get(post, ZERO)) for post in Post}
        used = sum(by_post.values(), ZERO)
        lines = _time_of_use_lines(tariff, by_post, used, flag)
    elif isinstance(consumption, Mapping):
        raise TypeError(f"tariff {tariff.name!r} prices one consumption, not posts")
    else:
        used = _rounded(consumption)
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
    flagged = isinstance(tariff, ElectricityTariff | TimeOfUseTariff)
    return Bill(tariff.name, used, tariff.unit, flag if flagged else None,
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
    period: Period  # a calendar month of the utility's local calendar
    bill: Bill
    status: InvoiceStatus
    issued_at: float
    due_at: float
    paid_at: float | None = None
    note: str | None = None  # for the customer, e.g. why only the fixed charges are billed

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

