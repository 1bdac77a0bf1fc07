"""Named periods of time, in UTC: the one place where their names are spelled.

A period is named by its step and its UTC start, as the fog API does::

    hour:2026-11-20T13    day:2026-11-20    month:2026-11

Billing periods are calendar months in UTC. A period covers ``[start, end)`` in epoch
seconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum


class Step(StrEnum):
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


_FORMATS = {Step.HOUR: "%Y-%m-%dT%H", Step.DAY: "%Y-%m-%d", Step.MONTH: "%Y-%m"}
_SHAPES = {
    Step.HOUR: re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}"),
    Step.DAY: re.compile(r"\d{4}-\d{2}-\d{2}"),
    Step.MONTH: re.compile(r"\d{4}-\d{2}"),
}
EARLIEST_YEAR = 2000
LATEST_YEAR = 2099


class InvalidPeriod(ValueError):
    """A period name that is not ``hour:YYYY-MM-DDTHH``, ``day:YYYY-MM-DD`` or ``month:YYYY-MM``."""


@dataclass(frozen=True, slots=True)
class Period:
    step: Step
    start: datetime  # UTC, aligned to the step

    @property
    def label(self) -> str:
        """The start alone, e.g. ``2026-11`` (what a billing period is called)."""
        return self.start.strftime(_FORMATS[self.step])

    @property
    def name(self) -> str:
        """The full name, e.g. ``month:2026-11`` (what the fog API takes)."""
        return f"{self.step.value}:{self.label}"

    @property
    def end(self) -> datetime:
        if self.step is Step.HOUR:
            return self.start + timedelta(hours=1)
        if self.step is Step.DAY:
            return self.start + timedelta(days=1)
        year, month = divmod(self.start.month, 12)
        return self.start.replace(year=self.start.year + year, month=month + 1)

    @property
    def start_epoch(self) -> float:
        return self.start.timestamp()

    @property
    def end_epoch(self) -> float:
        return self.end.timestamp()

    def is_closed(self, now: float) -> bool:
        """Whether the period is over at ``now`` (epoch seconds)."""
        return now >= self.end_epoch

    def has_started(self, now: float) -> bool:
        return now >= self.start_epoch


def parse_period_label(step: Step, label: str) -> Period:
    if not isinstance(label, str) or not _SHAPES[step].fullmatch(label):
        raise InvalidPeriod(f"a {step.value} period is written {_example(step)}, not {label!r}")
    try:
        start = datetime.strptime(label, _FORMATS[step]).replace(tzinfo=UTC)
    except ValueError:
        raise InvalidPeriod(f"{label!r} is not a valid {step.value}") from None
    if not EARLIEST_YEAR <= start.year <= LATEST_YEAR:
        raise InvalidPeriod(f"years {EARLIEST_YEAR}-{LATEST_YEAR} only, not {start.year}")
    return Period(step, start)


def parse_period(name: str) -> Period:
    """``day:2026-11-20`` -> Period. Raises :class:`InvalidPeriod` with a readable reason."""
    if not isinstance(name, str):
        raise InvalidPeriod("a period is a string such as day:2026-11-20")
    step_name, sep, label = name.partition(":")
    try:
        step = Step(step_name)
    except ValueError:
        raise InvalidPeriod(
            f"period {name!r} must be hour:YYYY-MM-DDTHH, day:YYYY-MM-DD or month:YYYY-MM"
        ) from None
    if not sep:
        raise InvalidPeriod(f"period {name!r} needs a start, e.g. {_example(step)}")
    return parse_period_label(step, label)


def period_containing(step: Step, epoch: float) -> Period:
    moment = datetime.fromtimestamp(epoch, UTC)
    if step is Step.HOUR:
        start = moment.replace(minute=0, second=0, microsecond=0)
    elif step is Step.DAY:
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return Period(step, start)


def _example(step: Step) -> str:
    return {Step.HOUR: "2026-11-20T13", Step.DAY: "2026-11-20", Step.MONTH: "2026-11"}[step]
