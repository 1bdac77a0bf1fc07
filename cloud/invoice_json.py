"""Invoices as JSON: one shape, for the cloud's Redis and for the API.

Money and quantities are decimal strings (``"12.30"``), never floats; times are epoch
seconds in storage and ISO 8601 in the utility's local time in the API
(``presenters.monthly_invoice``). ``note`` is null unless something about the invoice
needs saying (a month without readings); invoices stored before it existed have none.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from nevoa_core.calendar import Calendar
from nevoa_core.invoices import Bill, Invoice, InvoiceLine, InvoiceStatus
from nevoa_core.periods import Step
from nevoa_core.tariffs import Flag


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def line_to_json(line: InvoiceLine) -> dict[str, Any]:
    return {"code": line.code, "description": line.description,
            "quantity": _dec(line.quantity), "unit": line.unit,
            "unit_price": _dec(line.unit_price), "amount": str(line.amount)}


def bill_to_json(bill: Bill) -> dict[str, Any]:
    return {"tariff": bill.tariff, "consumption": str(bill.consumption), "unit": bill.unit,
            "flag": bill.flag.value if bill.flag else None,
            "lines": [line_to_json(line) for line in bill.lines],
            "subtotal": str(bill.subtotal), "taxes": str(bill.taxes), "total": str(bill.total)}


def invoice_to_json(i: Invoice) -> dict[str, Any]:
    return {"id": i.id, "registration": i.registration, "meter": i.meter,
            "period": i.period.label, "status": i.status.value, "issued_at": i.issued_at,
            "due_at": i.due_at, "paid_at": i.paid_at, "note": i.note, **bill_to_json(i.bill)}


def _opt(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def invoice_from_json(d: dict[str, Any], calendar: Calendar) -> Invoice:
    lines = tuple(InvoiceLine(x["code"], x["description"], Decimal(x["amount"]),
                              _opt(x["quantity"]), x["unit"], _opt(x["unit_price"]))
                  for x in d["lines"])
    bill = Bill(d["tariff"], Decimal(d["consumption"]), d["unit"],
                Flag(d["flag"]) if d["flag"] else None, lines, Decimal(d["subtotal"]),
                Decimal(d["taxes"]), Decimal(d["total"]))
    period = calendar.parse_period_label(Step.MONTH, d["period"])
    return Invoice(d["registration"], d["meter"], period, bill, InvoiceStatus(d["status"]),
                   d["issued_at"], d["due_at"], d["paid_at"], d.get("note"))
