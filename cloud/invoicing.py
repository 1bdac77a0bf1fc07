"""Invoices for calendar months: issue, list, pay, and cut supply for overdue debt.

A month's invoice is computed from the fog node's daily rollups of the customer's
meter (hourly rollups under a time-of-use tariff, each hour priced at the post of its
local start), priced by :func:`nevoa_core.invoices.price` under the customer's tariff
and the month's tariff flag. While the month runs the invoice is *provisional* (computed
on each request, stored nowhere); once it is over the first request *issues* it: stored
once, status ``open`` and due ``INVOICE_DUE_DAYS`` after the month's end.

A month without any reading (the first hours of a month, or a meter silent all month)
is invoiced for a consumption of 0 — the fixed charges and their taxes — with a
``note`` saying so; whatever the meter used meanwhile is counted from the last reading,
in the month of the next one. A closed month is issued so only if the meter had
reported in the 400 days before it; otherwise the meter was not in service yet and the
month has no invoice (:class:`NoReadingsInPeriod`): looking up an old month cannot issue
an overdue invoice for it (and cut the supply for that "debt"). Keys:

    nv:cloud:invoice:{registration}-{YYYY-MM}   JSON (cloud.invoice_json)
    nv:cloud:invoices:{registration}            sorted set of periods, score = month start
    nv:cloud:invoices:open                      sorted set of open invoice ids, score = due
    nv:cloud:flag:{YYYY-MM}                     the month's tariff flag
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

import redis

from cloud.directory import Customer, Directory, UnknownCustomer, UnknownMeter
from cloud.fog_client import FogClient, RegionUnavailable
from cloud.invoice_json import invoice_from_json, invoice_to_json
from cloud.supply import IssuedCommand, SupplyControl
from nevoa_core.calendar import Calendar
from nevoa_core.invoices import Consumption, Invoice, InvoiceStatus, invoice_id, price
from nevoa_core.money import to_decimal
from nevoa_core.periods import Period
from nevoa_core.supply import CutReason
from nevoa_core.tariffs import Flag, Tariff, TariffBook, TariffError, TimeOfUseTariff
from nevoa_core.time_of_use import usage_by_post

OPEN_INVOICES = "nv:cloud:invoices:open"
HOURS_PER_REQUEST = 31 * 86_400  # the longest span of hourly rollups the fog gives at once
DAYS_PER_REQUEST = 400 * 86_400  # ... of daily ones: how far back "in service" looks
NO_READING_YET = ("no reading has arrived this month yet: the fixed charges only, for a "
                  "consumption of 0 so far")
NO_READING_IN_MONTH = ("no reading arrived in this month: the fixed charges only; the "
                       "consumption since the last reading is billed in the month of the "
                       "next one")


class NoReadingsInPeriod(LookupError):
    """The meter sent nothing in the month nor before it: it was not in service yet."""

    def __init__(self, registration: str, period: Period) -> None:
        super().__init__(f"the meter of {registration} has sent no reading in or before "
                         f"{period.label}: there is no invoice for that month")


class PeriodNotStarted(ValueError):
    pass


class UnknownInvoice(LookupError):
    pass


def _invoice_key(iid: str) -> str:
    return f"nv:cloud:invoice:{iid}"


def _list_key(registration: str) -> str:
    return f"nv:cloud:invoices:{registration}"


def _flag_key(period: Period) -> str:
    return f"nv:cloud:flag:{period.label}"


def tariff_problem(book: TariffBook, customer: Customer) -> str | None:
    """Why the customer's tariff cannot price their meter, or None."""
    try:
        tariff = book.for_kind(customer.meter_kind, customer.tariff or None)
    except TariffError as exc:
        return str(exc)
    unit = customer.meter_kind.spec.register_unit
    if tariff.unit != unit:
        return f"tariff {tariff.name!r} prices {tariff.unit}, the meter measures {unit}"
    return None


@dataclass(frozen=True, slots=True)
class Payment:
    invoice: Invoice
    restored: IssuedCommand | None  # the valve command when paying restored supply
    restore_error: str | None = None  # the region did not answer: enforce_debts retries


@dataclass(slots=True)
class DebtEnforcement:
    cuts: list[tuple[Customer, IssuedCommand]] = field(default_factory=list)
    restored: list[tuple[Customer, IssuedCommand]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # registration, why


class Billing:
    def __init__(self, client: redis.Redis, directory: Directory, fogs: FogClient,
                 tariffs: TariffBook, supply: SupplyControl, due_days: int,
                 default_flag: Flag, calendar: Calendar | None = None) -> None:
        self._redis = client
        self.calendar = calendar or Calendar()
        self.directory = directory
        self.fogs = fogs
        self.tariffs = tariffs
        self.supply = supply
        self.due_days = due_days
        self.default_flag = default_flag

    # -- tariff flags ------------------------------------------------------------------

    def flag(self, period: Period) -> Flag:
        raw = cast(str | None, self._redis.get(_flag_key(period)))
        return Flag(raw) if raw else self.default_flag

    def set_flag(self, period: Period, flag: Flag) -> None:
        self._redis.set(_flag_key(period), flag.value)

    def tariff_problem(self, customer: Customer) -> str | None:
        return tariff_problem(self.tariffs, customer)

    # -- invoices ----------------------------------------------------------------------

    def _stored(self, iid: str) -> Invoice | None:
        raw = self._redis.get(_invoice_key(iid))
        return invoice_from_json(json.loads(raw), self.calendar) if raw else None

    def _consumption(self, customer: Customer, tariff: Tariff,
                     period: Period) -> Consumption | None:
        """The month's consumption as the tariff prices it (per post under a time-of-use
        tariff); None when no hour or day of the month has a reading."""
        if isinstance(tariff, TimeOfUseTariff):
            hours = self._hourly_rollups(customer, period)
            if not hours:
                return None
            return usage_by_post(tariff.schedule, (
                (self.calendar.local(float(p["start"])), to_decimal(float(p["consumption"])))
                for p in hours))
        days = self.fogs.rollups(customer.region, customer.meter, "day",
                                 period.start_epoch, period.end_epoch)
        if not days:
            return None
        return sum((max(to_decimal(float(p["consumption"])), Decimal(0)) for p in days),
                   Decimal(0))

    def _hourly_rollups(self, customer: Customer, period: Period) -> list[dict[str, Any]]:
        """The month's local hours, in as many requests as the fog's limit needs (a month
        may last 31 days and a DST hour)."""
        points: list[dict[str, Any]] = []
        start = period.start_epoch
        while start < period.end_epoch:
            end = min(start + HOURS_PER_REQUEST, period.end_epoch)
            points += self.fogs.rollups(customer.region, customer.meter, "hour", start, end)
            start = end
        return points

    def _reported_before(self, customer: Customer, period: Period) -> bool:
        start = period.start_epoch
        return bool(self.fogs.rollups(customer.region, customer.meter, "day",
                                      start - DAYS_PER_REQUEST, start))

    def due_at(self, period: Period) -> float:
        """``due_days`` local days after the month's end (a DST day counts as one day)."""
        cal = self.calendar
        return cal.day_start(cal.day_number(period.end_epoch) + self.due_days)

    def compute(self, customer: Customer, period: Period, now: float) -> Invoice:
        tariff = self.tariffs.for_kind(customer.meter_kind, customer.tariff or None)
        used = self._consumption(customer, tariff, period)
        note = None
        if used is None:  # nothing this month: the fixed charges (their taxes) only
            closed = period.is_closed(now)
            if closed and not self._reported_before(customer, period):
                raise NoReadingsInPeriod(customer.registration, period)
            used = {} if isinstance(tariff, TimeOfUseTariff) else Decimal(0)
            note = NO_READING_IN_MONTH if closed else NO_READING_YET
        bill = price(tariff, used, self.flag(period))
        return Invoice(customer.registration, customer.meter, period, bill,
                       InvoiceStatus.OPEN, issued_at=now, due_at=self.due_at(period),
                       note=note)

    def invoice(self, registration: str, period: Period, now: float) -> tuple[Invoice, bool]:
        """(the month's invoice, whether it is provisional)."""
        stored = self._stored(invoice_id(registration, period))
        if stored is not None:
            return stored, False
        if not period.has_started(now):
            raise PeriodNotStarted(f"{period.label} has not started yet")
        customer = self.directory.get(registration)
        invoice = self.compute(customer, period, now)
        if not period.is_closed(now):
            return invoice, True
        return self._issue(invoice), False

    def _issue(self, invoice: Invoice) -> Invoice:
        created = self._redis.set(_invoice_key(invoice.id),
                                  json.dumps(invoice_to_json(invoice)), nx=True)
        if not created:  # another request issued it first: theirs is the invoice
            stored = self._stored(invoice.id)
            assert stored is not None
            return stored
        pipe = self._redis.pipeline(transaction=True)
        pipe.zadd(_list_key(invoice.registration), {invoice.period.label:
                                                    invoice.period.start_epoch})
        pipe.zadd(OPEN_INVOICES, {invoice.id: invoice.due_at})
        pipe.execute()
        return invoice

    def invoices(self, registration: str) -> list[Invoice]:
        """Issued invoices, newest period first."""
        labels = cast(list[str], self._redis.zrevrange(_list_key(registration), 0, -1))
        raws = self._redis.mget([_invoice_key(f"{registration}-{p}") for p in labels]) \
            if labels else []
        return [invoice_from_json(json.loads(r), self.calendar) for r in raws if r]

    def pay(self, registration: str, period: Period, by: str, now: float) -> Payment:
        """Mark the invoice paid; if the meter was cut for debt and nothing else is
        overdue, restore its supply at once."""
        iid = invoice_id(registration, period)
        key = _invoice_key(iid)
        paid: list[Invoice] = []

        def transaction(pipe: redis.client.Pipeline) -> None:
            raw = pipe.get(key)
            if raw is None:
                raise UnknownInvoice(f"invoice {iid} has not been issued")
            invoice = invoice_from_json(json.loads(raw), self.calendar)
            invoice = invoice.pay(now)  # AlreadyPaid if paid
            pipe.multi()
            pipe.set(key, json.dumps(invoice_to_json(invoice)))
            pipe.zrem(OPEN_INVOICES, iid)
            paid.append(invoice)

        self._redis.transaction(transaction, key)
        if self.overdue_of(registration, now):
            return Payment(paid[0], None)
        try:
            restored = self.supply.restore_if_cut_for(self.directory.get(registration),
                                                      CutReason.DEBT, CutReason.PAYMENT, by)
        except RegionUnavailable as exc:  # paid all the same; enforce_debts retries
            return Payment(paid[0], None, str(exc))
        return Payment(paid[0], restored)

    def overdue_of(self, registration: str, now: float) -> list[Invoice]:
        return [i for i in self.invoices(registration) if i.overdue(now)]

    def enforce_debts(self, by: str, now: float, limit: int = 1000) -> DebtEnforcement:
        """Cut the supply of every meter with an invoice past its due date (and not cut
        already); restore every meter cut for debt that owes nothing overdue any more
        (a payment whose restore could not reach the region is completed here)."""
        done = DebtEnforcement()
        ids = cast(list[str], self._redis.zrangebyscore(OPEN_INVOICES, "-inf", now, start=0,
                                                        num=limit))
        for registration in sorted({iid.rsplit("-", 2)[0] for iid in ids}):
            try:
                customer = self.directory.get(registration)
                if self.supply.state(customer.meter)["state"] != "cut":
                    done.cuts.append((customer, self.supply.cut(customer, CutReason.DEBT, by)))
            except (UnknownCustomer, RegionUnavailable) as exc:
                done.failed.append((registration, str(exc)))
        for meter in self.supply.cut_for(CutReason.DEBT)[:limit]:
            try:
                customer = self.directory.by_meter(meter)
                if not self.overdue_of(customer.registration, now):
                    done.restored.append(
                        (customer, self.supply.restore(customer, CutReason.PAYMENT, by)))
            except (UnknownMeter, UnknownCustomer, RegionUnavailable) as exc:
                done.failed.append((meter, str(exc)))
        return done
