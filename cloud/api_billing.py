"""Invoices of calendar months, payments, tariffs and the monthly tariff flag."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from cloud import presenters
from cloud.access import audit_note, customer_data, principal, staff
from cloud.auth import Role
from cloud.caching import NO_STORE, private, public, with_cache
from cloud.errors import BadRequest
from cloud.requests import json_body
from cloud.wiring import now, services
from nevoa_adapters.jsonapi import int_arg
from nevoa_core.periods import Period, Step
from nevoa_core.tariffs import ElectricityTariff, Flag, Tariff, TieredTariff, TimeOfUseTariff
from nevoa_core.time_of_use import ClockHours

bp = Blueprint("billing", __name__, url_prefix="/api/v1")


def _month(label: str) -> Period:
    """A billing month of the utility's calendar, ``YYYY-MM``."""
    return services().settings.calendar.parse_period_label(Step.MONTH, label)


@bp.get("/customers/<registration>/invoices")
@customer_data
def invoices(registration: str) -> ResponseReturnValue:
    services().directory.get(registration)  # 404 for an unknown customer
    found = services().billing.invoices(registration)
    return jsonify(registration=registration,
                   invoices=[presenters.invoice_summary(i) for i in found])


@bp.get("/customers/<registration>/invoices/<month>")
@customer_data
def invoice(registration: str, month: str) -> ResponseReturnValue:
    s = services()
    invoice, provisional = s.billing.invoice(registration, _month(month), now())
    body = presenters.monthly_invoice(invoice, s.settings.tariffs.currency, provisional)
    return with_cache(jsonify(body), private(60) if provisional else NO_STORE)


@bp.post("/customers/<registration>/invoices/<month>/payment")
@customer_data
def pay(registration: str, month: str) -> ResponseReturnValue:
    """Record a payment (simulated: the payment provider is not part of nevoa)."""
    s = services()
    payment = s.billing.pay(registration, _month(month), by=principal().name, now=now())
    audit_note(invoice=payment.invoice.id,
               restore_command=payment.restored.id if payment.restored else None)
    return jsonify(invoice=presenters.monthly_invoice(payment.invoice, s.settings.tariffs.currency),
                   supply_restored=presenters.command(payment.restored)
                   if payment.restored else None,
                   supply_restore_error=payment.restore_error)


def _windows_json(windows: tuple[ClockHours, ...]) -> list[dict[str, str]]:
    return [{"from": f"{w.start:02d}:00", "to": f"{w.end:02d}:00"} for w in windows]


def _tariff_json(t: Tariff) -> dict[str, Any]:
    body: dict[str, Any] = {"name": t.name, "unit": t.unit,
                            "taxes": [{"name": x.name, "rate": str(x.rate)} for x in t.taxes]}
    if isinstance(t, TieredTariff):
        body.update(type="tiered", minimum_charge=str(t.minimum_charge),
                    minimum_block=str(t.minimum_block),
                    bands=[{"up_to": None if b.up_to is None else str(b.up_to),
                            "price": str(b.price)} for b in t.bands])
    elif isinstance(t, ElectricityTariff):
        body.update(type="electricity", fixed_charge=str(t.fixed_charge),
                    price_per_unit=str(t.price_per_unit),
                    flag_surcharges={f.value: str(v) for f, v in t.flag_surcharges.items()})
    elif isinstance(t, TimeOfUseTariff):
        body.update(type="time_of_use", fixed_charge=str(t.fixed_charge),
                    prices={p.value: str(v) for p, v in t.prices.items()},
                    peak_hours=_windows_json(t.schedule.peak),
                    intermediate_hours=_windows_json(t.schedule.intermediate),
                    holidays=sorted(d.isoformat() for d in t.schedule.holidays),
                    flag_surcharges={f.value: str(v) for f, v in t.flag_surcharges.items()})
    else:
        body.update(type="flat", rate=str(t.rate))
    return body


@bp.get("/tariffs")
def tariffs() -> ResponseReturnValue:
    book = services().settings.tariffs
    return with_cache(jsonify(
        currency=book.currency,
        defaults={k.label: name for k, name in book.defaults.items()},
        tariffs=[_tariff_json(book.tariffs[n]) for n in sorted(book.tariffs)]), public(300))


@bp.get("/tariff-flags/<month>")
def get_flag(month: str) -> ResponseReturnValue:
    period = _month(month)
    return with_cache(jsonify(month=period.label, flag=services().billing.flag(period).value),
                      public(60))


@bp.put("/tariff-flags/<month>")
@staff(Role.OPERATOR)
def set_flag(month: str) -> ResponseReturnValue:
    period = _month(month)
    raw = json_body("flag")["flag"]
    try:
        flag = Flag(raw)
    except ValueError:
        raise BadRequest("flag must be one of: " + ", ".join(f.value for f in Flag)) from None
    services().billing.set_flag(period, flag)
    audit_note(month=period.label, flag=flag.value)
    return jsonify(month=period.label, flag=flag.value)


@bp.post("/billing/overdue-cuts")
@staff(Role.OPERATOR)
def overdue_cuts() -> ResponseReturnValue:
    """Cut the supply of every meter with an invoice past due (and not cut already);
    restore meters cut for debt that owe nothing overdue any more."""
    limit = int_arg("limit", 1000, 1, 10_000)
    done = services().billing.enforce_debts(principal().name, now(), limit)
    audit_note(cut=[issued.id for _, issued in done.cuts],
               restored=[issued.id for _, issued in done.restored], failed=len(done.failed))
    return jsonify(
        cuts=[{"registration": c.registration, "meter": c.meter, **presenters.command(i)}
              for c, i in done.cuts],
        restored=[{"registration": c.registration, "meter": c.meter, **presenters.command(i)}
                  for c, i in done.restored],
        failed=[{"who": who, "error": why} for who, why in done.failed])
