"""A customer's consumption over a range, step by step, with the running total.

``raw`` uses the fog node's raw readings (consumption from the previous reading's
register by :func:`nevoa_core.consumption.link`, the one rule: a rollover counts through
the modulus, a tamper counts 0; the first reading of the range starts the running total
at zero);
``hour`` and ``day`` use the fog node's rollups, whose consumption already counts from
the last reading before each bucket.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from cloud.directory import Customer
from cloud.fog_client import FogClient
from nevoa_core.consumption import link
from nevoa_core.money import round_quantity, to_decimal


class HistoryStep(StrEnum):
    RAW = "raw"
    HOUR = "hour"
    DAY = "day"


# the longest range each step may ask for (the fog node's own limits: 31 days of hours,
# 400 days of days, raw readings kept 2 days by default), and the range when none is given
MAX_SPAN = {HistoryStep.RAW: 7 * 86400.0, HistoryStep.HOUR: 31 * 86400.0,
            HistoryStep.DAY: 400 * 86400.0}
DEFAULT_SPAN = {HistoryStep.RAW: 86400.0, HistoryStep.HOUR: 2 * 86400.0,
                HistoryStep.DAY: 31 * 86400.0}
STEP_SECONDS = {HistoryStep.RAW: 0.0, HistoryStep.HOUR: 3600.0, HistoryStep.DAY: 86400.0}


@dataclass(frozen=True, slots=True)
class Point:
    time: float  # the reading's time (raw) or the bucket's start (hour, day)
    consumption: Decimal
    running_total: Decimal
    register: Decimal | None


@dataclass(frozen=True, slots=True)
class History:
    customer: Customer
    step: HistoryStep
    start: float
    end: float
    points: list[Point]

    @property
    def total(self) -> Decimal:
        return self.points[-1].running_total if self.points else Decimal("0.000")


def _running(rows: list[tuple[float, Decimal, Decimal | None]]) -> list[Point]:
    total = Decimal(0)
    points = []
    for time, used, register in rows:
        total += used
        points.append(Point(time, round_quantity(used), round_quantity(total),
                            None if register is None else round_quantity(register)))
    return points


def consumption_history(fogs: FogClient, customer: Customer, step: HistoryStep,
                        start: float, end: float) -> History:
    if step is HistoryStep.RAW:
        readings = fogs.readings_between(customer.region, customer.meter, start, end)
        rows: list[tuple[float, Decimal, Decimal | None]] = []
        previous: float | None = None
        for r in readings:
            used = Decimal(0) if previous is None else link(previous, r.register).consumed
            rows.append((r.time, used, to_decimal(r.register)))
            previous = r.register
        return History(customer, step, start, end, _running(rows))
    buckets = fogs.rollups(customer.region, customer.meter, step.value, start, end)
    return History(customer, step, start, end, _running([
        (float(b["start"]), max(to_decimal(float(b["consumption"])), Decimal(0)),
         None if b.get("register") is None else to_decimal(float(b["register"])))
        for b in buckets]))
