"""Tariffs and invoices: each band boundary, each flag, taxes and rounding."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from nevoa_core.calendar import Calendar
from nevoa_core.invoices import AlreadyPaid, Invoice, InvoiceStatus, price
from nevoa_core.kinds import Kind
from nevoa_core.periods import Step
from nevoa_core.tariffs import (
    ElectricityTariff,
    Flag,
    TariffError,
    TieredTariff,
    TimeOfUseTariff,
    parse_tariff,
    parse_tariff_book,
)
from nevoa_core.time_of_use import Post

D = Decimal

WATER = parse_tariff("w", {
    "type": "tiered", "unit": "m3", "minimum_charge": "40.00", "minimum_block": "10",
    "bands": [{"up_to": "20", "price": "5.00"}, {"up_to": "50", "price": "8.00"},
              {"up_to": None, "price": "12.00"}],
})
POWER = parse_tariff("e", {
    "type": "electricity", "fixed_charge": "10.00", "price_per_unit": "0.50",
    "flag_surcharges": {"green": "0", "yellow": "0.02", "red1": "0.04", "red2": "0.08"},
    "taxes": [{"name": "ICMS", "rate": "0.18"}],
})


def amounts(bill_lines: tuple[object, ...]) -> list[tuple[str, Decimal]]:
    return [(line.code, line.amount) for line in bill_lines]  # type: ignore[attr-defined]


@pytest.mark.parametrize(("m3", "total"), [
    ("0", "40.00"),                 # nothing used: still the minimum charge
    ("9.999", "40.00"),
    ("10", "40.00"),                # the first block's upper boundary: minimum only
    ("10.001", "40.01"),            # 0.001 m3 x 5.00 = 0.005 -> 0.01 (half up)
    ("20", "90.00"),                # 40 + 10 x 5
    ("20.001", "90.01"),            # 0.008 -> 0.01
    ("50", "330.00"),               # 40 + 50 + 30 x 8
    ("50.001", "330.01"),           # 0.012 -> 0.01
    ("60", "450.00"),               # 330 + 10 x 12
])
def test_water_blocks_at_each_boundary(m3: str, total: str) -> None:
    bill = price(WATER, D(m3))
    assert bill.total == D(total)
    assert sum(line.amount for line in bill.lines) == bill.total


def test_water_lines_show_each_band() -> None:
    bill = price(WATER, D("55"))
    assert [(line.code, line.quantity, line.amount) for line in bill.lines] == [
        ("minimum", D("10"), D("40.00")),
        ("band", D("10"), D("50.00")),
        ("band", D("30"), D("240.00")),
        ("band", D("5.000"), D("60.00")),
    ]
    assert bill.lines[-1].description == "above 50 m3"


@pytest.mark.parametrize(("flag", "surcharge"), [
    (Flag.GREEN, None), (Flag.YELLOW, "2.00"), (Flag.RED1, "4.00"), (Flag.RED2, "8.00"),
])
def test_electricity_flags(flag: Flag, surcharge: str | None) -> None:
    bill = price(POWER, D("100"), flag)
    lines = dict(amounts(bill.lines))
    assert lines["fixed"] == D("10.00")
    assert lines["energy"] == D("50.00")
    assert lines.get("flag") == (D(surcharge) if surcharge else None)
    subtotal = D("60.00") + (D(surcharge) if surcharge else 0)
    assert bill.subtotal == subtotal
    assert lines["tax"] == (subtotal * D("0.18")).quantize(D("0.01"))
    assert bill.total == bill.subtotal + bill.taxes
    assert bill.flag is flag


def test_rounding_half_up_per_line_then_taxes_on_rounded_subtotal() -> None:
    t = parse_tariff("r", {"type": "electricity", "fixed_charge": "0", "price_per_unit": "0.125",
                           "flag_surcharges": {"yellow": "0.005"},
                           "taxes": [{"name": "A", "rate": "0.5"}, {"name": "B", "rate": "0.1"}]})
    bill = price(t, D("1.1"), Flag.YELLOW)
    # energy 1.1 x 0.125 = 0.1375 -> 0.14; flag 1.1 x 0.005 = 0.0055 -> 0.01
    assert dict(amounts(bill.lines[:3])) == {"fixed": D("0.00"), "energy": D("0.14"),
                                             "flag": D("0.01")}
    assert bill.subtotal == D("0.15")
    # taxes: 0.075 -> 0.08 (half up, not banker's 0.08/0.07), 0.015 -> 0.02
    assert [line.amount for line in bill.lines[3:]] == [D("0.08"), D("0.02")]
    assert bill.total == D("0.25")


def test_consumption_rounded_to_a_thousandth_half_up_and_never_negative() -> None:
    flat = parse_tariff("f", {"type": "flat", "rate": "3"})
    assert price(flat, 1.0005).consumption == D("1.001")
    assert price(flat, D("-5")).total == D("0.00")


def test_the_shipped_tariff_book_loads() -> None:
    raw = json.loads((Path(__file__).parents[2] / "cloud" / "tariffs.json").read_text())
    book = parse_tariff_book(raw)
    assert isinstance(book.for_kind(Kind.WATER), TieredTariff)
    assert isinstance(book.for_kind(Kind.ELECTRICITY), ElectricityTariff)
    assert book.for_kind(Kind.ELECTRICITY, "seed-flat").name == "seed-flat"
    white = book.for_kind(Kind.ELECTRICITY, "residential-white")
    assert isinstance(white, TimeOfUseTariff) and white.unit == "kWh"
    assert white.prices == {Post.OFF_PEAK: D("0.62"), Post.INTERMEDIATE: D("0.90"),
                            Post.PEAK: D("1.42")}
    # the book's holidays reach the tariff: Christmas, Tiradentes, Carnival Tuesday
    assert {date(2026, 12, 25), date(2027, 4, 21), date(2027, 2, 9)} <= white.schedule.holidays
    assert len(raw["holidays"]) == len(set(raw["holidays"])) == 24


@pytest.mark.parametrize(("spec", "message"), [
    ({"type": "flat", "rate": 3.5}, "decimal string"),
    ({"type": "flat", "rate": "-1"}, ">= 0"),
    ({"type": "flat", "rate": "x"}, "not a number"),
    ({"type": "tiered", "minimum_charge": "1", "minimum_block": "10",
      "bands": [{"up_to": "5", "price": "1"}, {"up_to": None, "price": "2"}]}, "above 10"),
    ({"type": "tiered", "minimum_charge": "1", "minimum_block": "10",
      "bands": [{"up_to": "20", "price": "1"}]}, "open-ended"),
    ({"type": "electricity", "fixed_charge": "1", "price_per_unit": "1",
      "flag_surcharges": {"purple": "1"}}, "unknown flag"),
    ({"type": "flat", "rate": "1", "taxes": [{"name": "T", "rate": "1.5"}]}, "fraction"),
    ({"type": "gas"}, "flat, tiered, electricity or time_of_use"),
])
def test_bad_tariff_configuration_is_refused_with_the_field(spec: dict[str, object],
                                                            message: str) -> None:
    with pytest.raises(TariffError, match=message):
        parse_tariff("x", spec)


def test_invoice_is_paid_once() -> None:
    period = Calendar().parse_period_label(Step.MONTH, "2026-10")
    invoice = Invoice("10001", "r1-e000001", period, price(POWER, D("10")),
                      InvoiceStatus.OPEN, issued_at=1.0, due_at=2.0)
    assert invoice.id == "10001-2026-10"
    assert invoice.overdue(3.0)
    paid = invoice.pay(5.0)
    assert paid.status is InvoiceStatus.PAID and paid.paid_at == 5.0
    assert not paid.overdue(10.0)
    with pytest.raises(AlreadyPaid):
        paid.pay(6.0)
