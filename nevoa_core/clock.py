"""The one source of "now": every service asks its Clock, never ``time.time()``.

Production runs on :class:`SystemClock`. Tests and drills pin the calendar: a
:class:`FixedClock` stands still until told to move (unit and in-process tests), and a
:class:`ShiftedClock` starts at a chosen instant and then runs at real speed (child
processes: ``NEVOA_CLOCK_START``), so that a whole stack can live through the first hour
of a month, a year end or a DST transition on any day of the year.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, tzinfo
from typing import Protocol

CLOCK_START_ENV = "NEVOA_CLOCK_START"


class Clock(Protocol):
    def now(self) -> float:
        """Epoch seconds (UTC)."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def __repr__(self) -> str:
        return "SystemClock()"


class FixedClock:
    """Stands at ``at`` until :meth:`advance` or :meth:`set` moves it."""

    def __init__(self, at: float) -> None:
        self._at = float(at)

    def now(self) -> float:
        return self._at

    def set(self, at: float) -> None:
        self._at = float(at)

    def advance(self, seconds: float) -> None:
        self._at += seconds

    def __repr__(self) -> str:
        return f"FixedClock({self._at!r})"


class ShiftedClock:
    """Reads ``start`` at the real instant ``anchor`` (default: when it is made) and runs
    at real speed: processes given the same pair share one clock."""

    def __init__(self, start: float, anchor: float | None = None) -> None:
        self.start = float(start)
        self.anchor = time.time() if anchor is None else float(anchor)
        self._shift = self.start - self.anchor

    def now(self) -> float:
        return time.time() + self._shift

    def __repr__(self) -> str:
        return f"ShiftedClock(start={self.start!r})"


def parse_instant(text: str, naive: tzinfo | None = None) -> float:
    """Epoch seconds, or ISO 8601 (``2026-12-01T00:30:00-03:00``, ``...Z``). A time
    without an offset is in the zone ``naive``; without one it is refused."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(value):
            raise ValueError(f"{text!r} is not a finite number of seconds")
        return value
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither epoch seconds nor ISO 8601") from None
    if moment.tzinfo is None:
        if naive is None:
            raise ValueError(f"{text!r} needs a UTC offset, e.g. 2026-12-01T00:30:00-03:00")
        moment = moment.replace(tzinfo=naive)
    return moment.timestamp()


def shifted_spec(start: float, anchor: float) -> str:
    """What ``NEVOA_CLOCK_START`` says for a clock reading ``start`` at real ``anchor``."""
    return f"{start!r}@{anchor!r}"


def clock_from(start: str | None) -> Clock:
    """The system clock, or a shifted one (tests and drills): ``start`` is an instant
    (ISO 8601 with offset, or epoch seconds), optionally ``@anchor``, the real epoch
    second at which the clock read ``start`` (so that several processes agree)."""
    if not start:
        return SystemClock()
    instant, _, anchor = start.partition("@")
    return ShiftedClock(parse_instant(instant), parse_instant(anchor) if anchor else None)
