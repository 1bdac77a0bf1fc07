"""Named UTC periods: parsing, bounds, month arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from nevoa_core.periods import InvalidPeriod, Step, parse_period, period_containing


def test_month_bounds_cross_the_year() -> None:
    p = parse_period("month:2026-12")
    assert p.end == datetime(2027, 1, 1, tzinfo=UTC)
    assert p.label == "2026-12" and p.name == "month:2026-12"


def test_day_and_hour() -> None:
    assert parse_period("day:2026-11-20").end_epoch - parse_period("day:2026-11-20").start_epoch \
        == 86400
    assert parse_period("hour:2026-11-20T13").start == datetime(2026, 11, 20, 13, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["", "day", "week:2026-11", "day:2026-13-01", "month:2026-1",
                                 "day:2026-02-30", "month:1999-12", "hour:2026-11-20 13"])
def test_bad_names_are_refused(bad: str) -> None:
    with pytest.raises(InvalidPeriod):
        parse_period(bad)


def test_period_containing() -> None:
    t = datetime(2026, 11, 20, 13, 45, tzinfo=UTC).timestamp()
    assert period_containing(Step.MONTH, t).name == "month:2026-11"
    assert period_containing(Step.HOUR, t).is_closed(t + 3600)
    assert not period_containing(Step.DAY, t).is_closed(t)
