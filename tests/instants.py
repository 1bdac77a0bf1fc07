"""The instants at which the date-sensitive tests run, whatever today's date is.

Every test whose answer depends on the calendar takes the ``instant`` fixture
(tests/conftest.py) and runs once per instant below: the stack's clock is pinned there
(``NEVOA_CLOCK_START`` for child processes, a FixedClock in-process), and readings are
published relative to it. ``NEVOA_TEST_INSTANTS=name,name`` picks a subset (a quick
local run); CI runs them all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime

from nevoa_core.calendar import Calendar


@dataclass(frozen=True, slots=True)
class Instant:
    name: str
    zone: str
    local: str  # ISO 8601 with the zone's offset at that instant

    @property
    def epoch(self) -> float:
        return datetime.fromisoformat(self.local).timestamp()

    @property
    def calendar(self) -> Calendar:
        return Calendar(self.zone)


INSTANTS = [
    Instant("first-hour-of-month", "America/Sao_Paulo", "2026-12-01T00:30:00-03:00"),
    Instant("last-hour-of-month", "America/Sao_Paulo", "2026-11-30T23:30:00-03:00"),
    Instant("year-end", "America/Sao_Paulo", "2026-12-31T23:45:00-03:00"),
    Instant("29-february", "America/Sao_Paulo", "2028-02-29T12:00:00-03:00"),
    Instant("dst-starts-new-york", "America/New_York", "2026-03-08T03:30:00-04:00"),
    Instant("dst-ends-new-york", "America/New_York", "2026-11-01T01:30:00-05:00"),
    Instant("dst-starts-lisbon", "Europe/Lisbon", "2026-03-29T02:30:00+01:00"),
    Instant("dst-ends-lisbon", "Europe/Lisbon", "2026-10-25T01:30:00+00:00"),
]


def selected(names: str | None = None) -> list[Instant]:
    """INSTANTS, or the ones named in ``NEVOA_TEST_INSTANTS`` (comma-separated)."""
    names = os.environ.get("NEVOA_TEST_INSTANTS", "") if names is None else names
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    if not wanted:
        return INSTANTS
    known = {i.name: i for i in INSTANTS}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise ValueError(f"unknown test instants {unknown}; known: {sorted(known)}")
    return [known[n] for n in wanted]
