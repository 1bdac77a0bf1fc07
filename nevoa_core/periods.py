"""Named periods of the utility's calendar: the one place where their names are spelled.

A period is named by its step and its start in the utility's local time::

    hour:2026-11-20T13    day:2026-11-20    month:2026-11

Days and months follow the local calendar (a day may last 23 or 25 hours where DST
applies); an hour is 3,600 real seconds. A period covers ``[start, end)`` in epoch
seconds. Periods are made by :class:`nevoa_core.calendar.Calendar`, which knows the zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum


class Step(StrEnum):
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


FORMATS = {Step.HOUR: "%Y-%m-%dT%H", Step.DAY: "%Y-%m-%d", Step.MONTH: "%Y-%m"}
SHAPES = {
    Step.HOUR: re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}"),
    Step.DAY: re.compile(r"\d{4}-\d{2}-\d{2}"),
    Step.MONTH: re.compile(r"\d{4}-\d{2}"),
}
EXAMPLES = {Step.HOUR: "2026-11-20T13", Step.DAY: "2026-11-20", Step.MONTH: "2026-11"}
EARLIEST_YEAR = 2000
LATEST_YEAR = 2099


class InvalidPeriod(ValueError):
    """A period name that is not ``hour:YYYY-MM-DDTHH``, ``day:YYYY-MM-DD`` or ``month:YYYY-MM``."""


def _local_midnight(day: date, zone: object) -> datetime:
    """The first instant of a local date (a midnight skipped by DST starts at the jump)."""
    naive = datetime(day.year, day.month, day.day)
    moment = naive.replace(tzinfo=zone)  # type: ignore[arg-type]
    return datetime.fromtimestamp(moment.timestamp(), moment.tzinfo)


@dataclass(frozen=True, slots=True)
class Period:
    step: Step
    start: datetime  # aware, in the utility's zone, aligned to the step

    @property
    def label(self) -> str:
        """The local start alone, e.g. ``2026-11`` (what a billing period is called)."""
        if self.step is Step.HOUR:
            return self.start.strftime(FORMATS[self.step])
        return self.first_day.strftime(FORMATS[self.step])

    @property
    def name(self) -> str:
        """The full name, e.g. ``month:2026-11`` (what the fog API takes)."""
        return f"{self.step.value}:{self.label}"

    @property
    def first_day(self) -> date:
        """The local date the period starts on (a skipped midnight still names its day)."""
        return self.start.date()  # a skipped midnight starts the day at 01:00

    @property
    def end(self) -> datetime:
        zone = self.start.tzinfo
        if self.step is Step.HOUR:
            return datetime.fromtimestamp(self.start.timestamp() + 3600, zone)
        first = self.first_day
        if self.step is Step.DAY:
            return _local_midnight(first + timedelta(days=1), zone)
        year, month = divmod(first.month, 12)
        return _local_midnight(date(first.year + year, month + 1, 1), zone)

    @property
    def start_epoch(self) -> float:
        return self.start.timestamp()

    @property
    def end_epoch(self) -> float:
        return self.end.timestamp()

    @property
    def seconds(self) -> float:
        return self.end_epoch - self.start_epoch

    def previous(self) -> Period:
        """The period of the same step just before this one."""
        return _containing(self.step, self.start_epoch - 1, self.start.tzinfo)

    def is_closed(self, now: float) -> bool:
        """Whether the period is over at ``now`` (epoch seconds)."""
        return now >= self.end_epoch

    def has_started(self, now: float) -> bool:
        return now >= self.start_epoch

    def contains(self, epoch: float) -> bool:
        return self.start_epoch <= epoch < self.end_epoch


def _containing(step: Step, epoch: float, zone: object) -> Period:
    moment = datetime.fromtimestamp(epoch, zone)  # type: ignore[arg-type]
    if step is Step.HOUR:
        return Period(step, datetime.fromtimestamp(_hour_floor(moment), zone))  # type: ignore[arg-type]
    day = moment.date()
    if step is Step.MONTH:
        day = day.replace(day=1)
    return Period(step, _local_midnight(day, zone))


def _hour_floor(moment: datetime) -> float:
    """The start of the local clock hour ``moment`` falls in, in epoch seconds."""
    return moment.timestamp() - moment.minute * 60 - moment.second - moment.microsecond / 1e6
