"""Time-of-use posts (Brazil's *tarifa branca*): which price an hour of consumption pays.

A working day is split into posts by local clock hours: *peak* (ponta, e.g. 18:00-21:00),
*intermediate* (intermediária, e.g. the hour before and the hour after the peak) and
*off-peak* (fora de ponta, every other hour). Saturdays, Sundays and the configured
holidays are off-peak all day.

Windows are whole local clock hours ``[start, end)``, 0 <= start < end <= 24: the fog's
hourly buckets start at whole local hours, so a bucket belongs to exactly one post, the
one of its local start. On a DST day that is the wall clock's hour: the repeated hour of
an autumn night is classified twice, both times by the same clock hour; a skipped hour
has no bucket. A window does not cross midnight (write 22:00-24:00 and 00:00-01:00).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

SATURDAY = 5  # date.weekday(): Monday is 0


class Post(StrEnum):
    PEAK = "peak"
    INTERMEDIATE = "intermediate"
    OFF_PEAK = "off_peak"


class InvalidSchedule(ValueError):
    """Windows that are not whole hours of one day, or that overlap."""


@dataclass(frozen=True, slots=True)
class ClockHours:
    """Local clock hours ``[start, end)`` of one day: ``ClockHours(18, 21)`` is 18:00-21:00."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= 24:
            raise InvalidSchedule(f"{self} is not a window of one day: whole hours with "
                                  "0 <= from < to <= 24")

    def __str__(self) -> str:
        return f"{self.start:02d}:00-{self.end:02d}:00"

    def contains(self, hour: int) -> bool:
        return self.start <= hour < self.end

    def overlaps(self, other: ClockHours) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True, slots=True)
class Schedule:
    """The posts of a time-of-use tariff; hours not in a window are off-peak."""

    peak: tuple[ClockHours, ...]
    intermediate: tuple[ClockHours, ...] = ()
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.peak:
            raise InvalidSchedule("a time-of-use schedule needs at least one peak window")
        named = [(Post.PEAK, w) for w in self.peak] + \
                [(Post.INTERMEDIATE, w) for w in self.intermediate]
        for i, (post_a, a) in enumerate(named):
            for post_b, b in named[i + 1:]:
                if a.overlaps(b):
                    raise InvalidSchedule(f"{post_a.value} {a} overlaps {post_b.value} {b}")

    def is_working_day(self, day: date) -> bool:
        """Monday to Friday and not a holiday: the days with peak and intermediate hours."""
        return day.weekday() < SATURDAY and day not in self.holidays

    def post_at(self, moment: datetime) -> Post:
        """The post of the local wall-clock time ``moment`` (aware in the utility's zone,
        or naive local time)."""
        if not self.is_working_day(moment.date()):
            return Post.OFF_PEAK
        if any(w.contains(moment.hour) for w in self.peak):
            return Post.PEAK
        if any(w.contains(moment.hour) for w in self.intermediate):
            return Post.INTERMEDIATE
        return Post.OFF_PEAK

    def hours_of(self, post: Post) -> tuple[ClockHours, ...]:
        """The windows of a post on a working day (off-peak: none, it is the rest)."""
        return {Post.PEAK: self.peak, Post.INTERMEDIATE: self.intermediate}.get(post, ())


def usage_by_post(schedule: Schedule, buckets: Iterable[tuple[datetime, Decimal]]
                  ) -> dict[Post, Decimal]:
    """Sum hourly consumption per post, each bucket by its local start; every post is
    present (zero when nothing fell in it). Negative buckets count as zero."""
    used = dict.fromkeys(Post, Decimal(0))
    for start, consumption in buckets:
        used[schedule.post_at(start)] += max(consumption, Decimal(0))
    return used
