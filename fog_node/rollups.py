"""A meter's hourly and daily rollups, completed at query time for the open hour and day.

Stored (see record_readings.lua): per local day, a hash of hour slots "HH" (whole hours
since the day's first instant, 00..24) -> consumption and "HHr" -> the register that
ended the hour; per month, a hash of closed days "DD" and
"DDr". The hour and the day of the latest reading are still open: their register is
the latest reading's, and the open day's consumption is the sum of its hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import redis

from fog_node.keys import RegionKeys
from fog_node.store import parse_last
from nevoa_core.calendar import SLOTS_PER_DAY, Calendar
from nevoa_core.periods import Step

MILLI = 1000
MAX_SPAN = {Step.HOUR: 31 * 86_400, Step.DAY: 400 * 86_400}


class RangeTooLong(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Point:
    start: float
    consumption: float
    register: float | None

    def as_json(self) -> dict[str, float | None]:
        return {"start": self.start, "consumption": self.consumption, "register": self.register}


def _register(value: str | None) -> float | None:
    return int(value) / MILLI if value is not None else None


def _hour_fields(fields: dict[str, str]) -> list[str]:
    return sorted({k[:2] for k in fields})


class Rollups:
    def __init__(self, client: redis.Redis, region: str, calendar: Calendar | None = None
                 ) -> None:
        self.redis = client
        self.keys = RegionKeys(region)
        self.calendar = calendar or Calendar()

    def points(self, meter: str, step: Step, start: float, end: float) -> list[Point] | None:
        """Buckets starting in [start, end), oldest first; None for an unknown meter.
        Buckets are the utility's local hours and days (nevoa_core.calendar)."""
        if step not in MAX_SPAN:
            raise ValueError("step must be hour or day")
        if end - start > MAX_SPAN[step]:
            raise RangeTooLong(f"at most {MAX_SPAN[step] // 86_400} days of {step.value} rollups "
                               "per request")
        last, live = cast(list[str | None],
                          self.redis.hmget(self.keys.meter(meter), ["last", "live"]))
        latest = parse_last(meter, last, live)
        if latest is None:
            return None
        cal = self.calendar
        days = cal.days_overlapping(start, end)
        pipe = self.redis.pipeline(transaction=False)
        for d in days:
            pipe.hgetall(self.keys.hourly(meter, cal.day_label(d)))
        hourly: dict[int, dict[str, str]] = dict(zip(days, pipe.execute(), strict=True))
        # the open hour's consumption is still in the summary: add it where it belongs
        open_day, open_slot = divmod(latest.open_hour, SLOTS_PER_DAY)
        if open_day in hourly:
            fields = hourly[open_day] = dict(hourly[open_day])
            hh = f"{open_slot:02d}"
            fields[hh] = str(int(fields.get(hh, 0)) + latest.open_hour_milli)
        open_register = latest.reading.register
        if step is Step.HOUR:
            points = self._hours(hourly, latest.open_hour, open_register)
        else:
            points = self._days(meter, days, hourly, open_day, open_register)
        return [p for p in points if start <= p.start < end]

    def _hours(self, hourly: dict[int, dict[str, str]], open_hour: int,
               open_register: float) -> list[Point]:
        points = []
        for day, fields in hourly.items():
            for hh in _hour_fields(fields):
                slot = int(hh)
                register = _register(fields.get(hh + "r"))
                if day * SLOTS_PER_DAY + slot == open_hour:
                    register = open_register
                points.append(Point(self.calendar.slot_start(day, slot),
                                    int(fields.get(hh, 0)) / MILLI, register))
        return points

    def _days(self, meter: str, days: list[int], hourly: dict[int, dict[str, str]],
              open_day: int, open_register: float) -> list[Point]:
        cal = self.calendar
        months = sorted({cal.day_label(d)[:7] for d in days})
        pipe = self.redis.pipeline(transaction=False)
        for m in months:
            pipe.hgetall(self.keys.daily(meter, m))
        daily = dict(zip(months, pipe.execute(), strict=True))
        points = []
        for day in days:
            label = cal.day_label(day)
            closed = daily[label[:7]]
            dd = label[8:]
            begin = cal.day_start(day)
            if day == open_day or (dd not in closed and hourly[day]):
                hours = hourly[day]
                total = sum(int(v) for k, v in hours.items() if len(k) == 2)
                last = max((k for k in hours if k.endswith("r")), default=None)
                register = open_register if day == open_day else _register(
                    hours.get(last) if last else None)
                points.append(Point(begin, total / MILLI, register))
            elif dd in closed:
                points.append(Point(begin, int(closed[dd]) / MILLI,
                                    _register(closed.get(dd + "r"))))
        return points
