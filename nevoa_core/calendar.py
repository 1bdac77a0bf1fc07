"""The utility's calendar: days, months and hours in its local time zone.

One IANA zone, set once per deployment (default ``America/Sao_Paulo``), defines billing
months, due dates, the days and months of rankings and the steps of a customer's
history, DST included: a local day may last 23 or 25 hours. Timestamps on the wire and
in storage stay UTC epoch seconds; only the boundaries are local.

Hours inside a local day are numbered by *slot*: whole hours since the day's first
instant (0..22 on a 23-hour day, 0..24 on a 25-hour one), so the repeated 01:00 of an
autumn night is two slots, not one. Day numbers count local dates from 1970-01-01.
The fog's ingest script computes the same numbers from :meth:`Calendar.lua_table`;
``tests`` hold both to :mod:`zoneinfo`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nevoa_core.periods import (
    EARLIEST_YEAR,
    EXAMPLES,
    FORMATS,
    LATEST_YEAR,
    SHAPES,
    InvalidPeriod,
    Period,
    Step,
    _containing,
    _local_midnight,
)

DEFAULT_TIMEZONE = "America/Sao_Paulo"
EPOCH_DAY = date(1970, 1, 1).toordinal()
SLOTS_PER_DAY = 25  # the longest local day has 25 hours: slot ids are day * 25 + slot


class UnknownTimeZone(ValueError):
    pass


def load_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownTimeZone(f"{name!r} is not an IANA time zone (e.g. {DEFAULT_TIMEZONE}, "
                              "Europe/Lisbon, UTC)") from None


@dataclass(frozen=True, slots=True)
class Calendar:
    zone_name: str = DEFAULT_TIMEZONE
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "zone", load_zone(self.zone_name))

    # --- periods ------------------------------------------------------------------------
    def period_containing(self, step: Step, epoch: float) -> Period:
        return _containing(step, epoch, self.zone)

    def parse_period_label(self, step: Step, label: str) -> Period:
        if not isinstance(label, str) or not SHAPES[step].fullmatch(label):
            raise InvalidPeriod(f"a {step.value} period is written {EXAMPLES[step]}, "
                                f"not {label!r}")
        try:
            naive = datetime.strptime(label, FORMATS[step])
        except ValueError:
            raise InvalidPeriod(f"{label!r} is not a valid {step.value}") from None
        if not EARLIEST_YEAR <= naive.year <= LATEST_YEAR:
            raise InvalidPeriod(f"years {EARLIEST_YEAR}-{LATEST_YEAR} only, not {naive.year}")
        if step is Step.HOUR:  # the first of a repeated hour; a skipped one is refused
            moment = naive.replace(tzinfo=self.zone)
            if datetime.fromtimestamp(moment.timestamp(), self.zone).hour != naive.hour:
                raise InvalidPeriod(f"{label} does not exist in {self.zone_name} (DST)")
            return Period(step, datetime.fromtimestamp(moment.timestamp(), self.zone))
        return Period(step, _local_midnight(naive.date(), self.zone))

    def parse_period(self, name: str) -> Period:
        """``day:2026-11-20`` -> Period. Raises :class:`InvalidPeriod` with a reason."""
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
            raise InvalidPeriod(f"period {name!r} needs a start, e.g. {EXAMPLES[step]}")
        return self.parse_period_label(step, label)

    # --- local time ---------------------------------------------------------------------
    def local(self, epoch: float) -> datetime:
        return datetime.fromtimestamp(epoch, self.zone)

    def iso(self, epoch: float) -> str:
        """ISO 8601 in local time with its offset: ``2026-11-30T22:00:00-03:00``."""
        return self.local(epoch).isoformat(timespec="seconds")

    def day_number(self, epoch: float) -> int:
        """The local date of an instant, as days since 1970-01-01."""
        return self.local(epoch).date().toordinal() - EPOCH_DAY

    @staticmethod
    def date_of(day: int) -> date:
        return date.fromordinal(day + EPOCH_DAY)

    def day_start(self, day: int) -> float:
        return _local_midnight(self.date_of(day), self.zone).timestamp()

    def day_label(self, day: int) -> str:
        return self.date_of(day).strftime(FORMATS[Step.DAY])

    def hour_slot(self, epoch: float) -> tuple[int, int]:
        """(local day number, whole hours since that day's first instant)."""
        day = self.day_number(epoch)
        return day, int((epoch - self.day_start(day)) // 3600)

    def slot_start(self, day: int, slot: int) -> float:
        return self.day_start(day) + slot * 3600

    def slot_id(self, epoch: float) -> int:
        """One integer per hour bucket, increasing with time (the fog's "open hour")."""
        day, slot = self.hour_slot(epoch)
        return day * SLOTS_PER_DAY + slot

    def days_overlapping(self, start: float, end: float) -> list[int]:
        """The local days that share an instant with ``[start, end)``, oldest first."""
        if end <= start:
            return []
        first, last = self.day_number(start), self.day_number(end - 1e-6)
        return list(range(first, last + 1))

    # --- the same rules, for the fog's ingest script ------------------------------------
    def lua_table(self) -> str:
        """UTC offset changes as text lines ``"at offset"`` (epoch seconds, seconds east
        of UTC), the first line standing for all earlier time: what record_readings.lua
        needs to place readings in local days and hours exactly as this class does."""
        return _offset_changes(self.zone_name)


@lru_cache(maxsize=16)
def _offset_changes(zone_name: str) -> str:
    zone = load_zone(zone_name)

    def offset(t: int) -> int:
        delta = datetime.fromtimestamp(t, zone).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    t = int(datetime(EARLIEST_YEAR - 1, 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime(LATEST_YEAR + 1, 1, 1, tzinfo=UTC).timestamp())
    current = offset(t)
    lines = [f"{t} {current}"]
    step = int(timedelta(hours=12).total_seconds())
    while t < end:
        nxt = t + step
        if offset(nxt) != current:
            lo, hi = t, nxt  # offset(lo) == current != offset(hi)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(mid) == current:
                    lo = mid
                else:
                    hi = mid
            current = offset(hi)
            lines.append(f"{hi} {current}")
        t = nxt
    return "\n".join(lines)
