"""How the cloud writes readings, invoices, rankings and checks as JSON.

Times for people are ISO 8601 in the utility's local time with their offset
(``2026-11-30T22:00:00-03:00``: the calendar of :class:`nevoa_core.calendar.Calendar`);
money and exact quantities are decimal strings.
"""

from __future__ import annotations

from typing import Any

from cloud.accounts import ExcessReport, LastPeriodInvoice
from cloud.fanout import Gathered
from cloud.history import History
from cloud.invoice_json import invoice_to_json
from cloud.supply import IssuedCommand
from cloud.utility import Ranking, RegionalMeans
from cloud.wiring import services
from nevoa_core.invoices import Invoice
from nevoa_core.senml import Reading


def iso(epoch: float) -> str:
    return services().settings.calendar.iso(epoch)


def iso_or_none(epoch: float | None) -> str | None:
    return None if epoch is None else iso(float(epoch))


def reading(r: Reading) -> dict[str, Any]:
    return {
        "meter": r.meter,
        "seq": r.seq,
        "time": iso(r.time),
        "value": r.register,
        "unit": r.kind.spec.register_unit,
        "kind": r.kind.label,
    }


def invoice(i: LastPeriodInvoice) -> dict[str, Any]:
    return {
        "registration": i.customer.registration,
        "meter": i.customer.meter,
        "period": {"start": iso(i.start.time), "end": iso(i.end.time)},
        "previous_reading": str(i.invoice.previous_register),
        "last_reading": str(i.invoice.last_register),
        "consumption": str(i.invoice.consumption),
        "unit": i.end.kind.spec.register_unit,
        "rate": str(i.invoice.rate),
        "amount": str(i.invoice.amount),
    }


def excess(report: ExcessReport) -> dict[str, Any]:
    c = report.check
    return {
        "registration": report.customer.registration,
        "meter": report.customer.meter,
        "excessive": c.excessive,
        "newest_period": str(c.newest_period),
        "baseline_mean": str(c.baseline_mean),
        "threshold": str(c.threshold),
        "excess": str(c.excess),
        "period_end": iso(report.readings[-1].time),
    }


def partial(gathered: Gathered[Any]) -> dict[str, Any]:
    return {"partial": gathered.partial, "missing_regions": gathered.missing_regions,
            "region_errors": dict(sorted(gathered.missing.items()))}


def monthly_invoice(i: Invoice, currency: str, provisional: bool = False) -> dict[str, Any]:
    body = invoice_to_json(i)
    body.update(
        status="provisional" if provisional else i.status.value,
        currency=currency,
        period_start=iso(i.period.start_epoch), period_end=iso(i.period.end_epoch),
        issued_at=None if provisional else iso(i.issued_at), due_at=iso(i.due_at),
        paid_at=iso_or_none(i.paid_at),
    )
    return body


def invoice_summary(i: Invoice) -> dict[str, Any]:
    return {"id": i.id, "period": i.period.label, "status": i.status.value,
            "total": str(i.bill.total), "due_at": iso(i.due_at),
            "paid_at": iso_or_none(i.paid_at)}


def history(h: History) -> dict[str, Any]:
    kind = h.customer.meter_kind
    return {
        "registration": h.customer.registration, "meter": h.customer.meter,
        "step": h.step.value, "from": iso(h.start), "to": iso(h.end),
        "unit": kind.spec.register_unit, "total": str(h.total),
        "points": [{"time": iso(p.time), "consumption": str(p.consumption),
                    "running_total": str(p.running_total),
                    "register": None if p.register is None else str(p.register)}
                   for p in h.points],
    }


def ranking(r: Ranking) -> dict[str, Any]:
    return {
        "period": r.period.name, "kind": r.kind.label, "unit": r.kind.spec.register_unit,
        "n": r.n,
        "regions": sorted(r.gathered.answers),
        "items": [{"rank": i, "meter": c.meter, "region": c.region,
                   "registration": r.registrations.get(c.meter),
                   "consumption": float(c.consumption)}
                  for i, c in enumerate(r.items, start=1)],
        **partial(r.gathered),
    }


def means(m: RegionalMeans) -> dict[str, Any]:
    return {
        "period": m.period.name, "kind": m.kind.label, "unit": m.kind.spec.register_unit,
        "regions": [{"region": name, **{k: v for k, v in stats.items() if k != "region"}}
                    for name, stats in m.regions.items()],
        "city": {"meters": m.city.meters, "total": float(m.city.total),
                 "mean": None if m.city.mean is None else float(round(m.city.mean, 3))},
        **partial(m.gathered),
    }


def command(issued: IssuedCommand) -> dict[str, Any]:
    return {"command_id": issued.id, "region": issued.region, "command": issued.command,
            "status_url": f"/api/v1/commands/{issued.id}"}
