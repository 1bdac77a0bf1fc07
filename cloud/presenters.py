"""How the cloud writes readings, invoices and checks as JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cloud.accounts import ExcessReport, LastPeriodInvoice
from nevoa_core.senml import Reading


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


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
