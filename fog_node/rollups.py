"""A meter's hourly and daily rollups, completed at query time for the open hour and day.

Stored (see record_readings.lua): per day, a hash of hours "HH" -> consumption and
"HHr" -> the register that ended the hour; per month, a hash of closed days "DD" and
"DDr". The hour and the day of the latest reading are still open: their register is
the latest reading's, and the open day's consumption is the sum of its hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

import redis

from fog_node.keys import RegionKeys
from fog_node.store import parse_last
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


def _days(start: float, end: float) -> list[datetime]:
    day = datetime.fromtimestamp(start, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    out = []
    while day.timestamp() < end:
        out.append(day)
        day += timedelta(days=1)
    return out


def _months(days: list[datetime]) -> list[datetime]:
    return sorted({d.replace(day=1) for d in days})


def _register(value: str | None) -> float | None:
    return int(value) / MILLI if value is not None else None


class Rollups:
    def __init__(self, client: redis.Redis, region: str) -> None:
        self.redis = client
        self.keys = RegionKeys(region)

    def points(self, meter: str, step: Step, start: float, end: float) -> list[Point] | None:
        """Buckets starting in [start, end), oldest first; None for an unknown meter."""
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
        days = _days(start, end)
        pipe = self.redis.pipeline(transaction=False)
        for d in days:
            pipe.hgetall(self.keys.hourly(meter, d.strftime("%Y-%m-%d")))
        hourly = dict(zip(days, pipe.execute(), strict=True))
        # the open hour's consumption is still in the summary: add it where it belongs
        open_hour = datetime.fromtimestamp(latest.open_hour * 3600, UTC)
        open_day = open_hour.replace(hour=0)
        if open_day in hourly:
            fields = hourly[open_day] = dict(hourly[open_day])
            hh = open_hour.strftime("%H")
            fields[hh] = str(int(fields.get(hh, 0)) + latest.open_hour_milli)
        open_time = latest.reading.time
        open_register = latest.reading.register
        if step is Step.HOUR:
            points = self._hours(hourly, open_time, open_register)
        else:
            points = self._days(meter, days, hourly, open_time, open_register)
        return [p for p in points if start <= p.start < end]

    @staticmethod
    def _hours(hourly: dict[datetime, dict[str, str]], open_time: float,
               open_register: float) -> list[Point]:
        open_hour = int(open_time // 3600) * 3600
        points = []
        for day, fields in hourly.items():
            for hh in sorted({k[:2] for k in fields}):
                begin = day.timestamp() + int(hh) * 3600
                register = _register(fields.get(hh + "r"))
                if begin == open_hour:
                    register = open_register
                points.append(Point(begin, int(fields.get(hh, 0)) / MILLI, register))
        return points

    def _days(self, meter: str, days: list[datetime], hourly: dict[datetime, dict[str, str]],
              open_time: float, open_register: float) -> list[Point]:
        pipe = self.redis.pipeline(transaction=False)
        months = _months(days)
        for m in months:
            pipe.hgetall(self.keys.daily(meter, m.strftime("%Y-%m")))
        daily = dict(zip(months, pipe.execute(), strict=True))
        open_day = int(open_time // 86_400) * 86_400
        points = []
        for day in days:
            closed = daily[day.replace(day=1)]
            dd = day.strftime("%d")
            if day.timestamp() == open_day or (dd not in closed and hourly[day]):
                hours = hourly[day]
                total = sum(int(v) for k, v in hours.items() if len(k) == 2)
                last = max((k for k in hours if k.endswith("r")), default=None)
                register = open_register if day.timestamp() == open_day else _register(
                    hours.get(last) if last else None)
                points.append(Point(day.timestamp(), total / MILLI, register))
            elif dd in closed:
                points.append(Point(day.timestamp(), int(closed[dd]) / MILLI,
                                    _register(closed.get(dd + "r"))))
        return points
