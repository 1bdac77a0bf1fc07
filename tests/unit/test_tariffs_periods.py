"""Named periods of the utility's calendar: parsing, bounds, month arithmetic, DST days."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from nevoa_core.calendar import Calendar
from nevoa_core.periods import InvalidPeriod, Step

SAO_PAULO = Calendar()
NEW_YORK = Calendar("America/New_York")
LISBON = Calendar("Europe/Lisbon")


def test_month_bounds_cross_the_year_in_local_time() -> None:
    p = SAO_PAULO.parse_period("month:2026-12")
    assert p.end == datetime(2027, 1, 1, tzinfo=ZoneInfo("America/Sao_Paulo"))
    assert p.end_epoch == datetime.fromisoformat("2027-01-01T03:00:00+00:00").timestamp()
    assert p.label == "2026-12" and p.name == "month:2026-12"
    assert p.previous().name == "month:2026-11"


def test_day_and_hour() -> None:
    assert SAO_PAULO.parse_period("day:2026-11-20").seconds == 86400
    assert SAO_PAULO.parse_period("hour:2026-11-20T13").start_epoch == \
        datetime.fromisoformat("2026-11-20T16:00:00+00:00").timestamp()
    assert SAO_PAULO.parse_period("day:2028-02-29").seconds == 86400


@pytest.mark.parametrize(("calendar", "day", "hours"), [
    (NEW_YORK, "2026-03-08", 23), (NEW_YORK, "2026-11-01", 25),
    (LISBON, "2026-03-29", 23), (LISBON, "2026-10-25", 25),
    (SAO_PAULO, "2018-11-04", 23), (SAO_PAULO, "2019-02-16", 25)])
def test_a_dst_day_lasts_23_or_25_hours(calendar: Calendar, day: str, hours: int) -> None:
    p = calendar.parse_period(f"day:{day}")
    assert p.seconds == hours * 3600
    assert calendar.hour_slot(p.end_epoch - 1) == (calendar.day_number(p.start_epoch), hours - 1)


def test_a_midnight_skipped_by_dst_starts_the_day_at_the_jump() -> None:
    # Brazil 2018: clocks went from 00:00 to 01:00 on 4 November
    p = SAO_PAULO.parse_period("day:2018-11-04")
    assert SAO_PAULO.iso(p.start_epoch) == "2018-11-04T01:00:00-02:00"
    assert SAO_PAULO.period_containing(Step.DAY, p.start_epoch - 1).label == "2018-11-03"


def test_the_repeated_hour_of_an_autumn_night_is_two_slots() -> None:
    first = datetime.fromisoformat("2026-11-01T01:30:00-04:00").timestamp()
    second = datetime.fromisoformat("2026-11-01T01:30:00-05:00").timestamp()
    assert NEW_YORK.hour_slot(first)[1] == 1 and NEW_YORK.hour_slot(second)[1] == 2
    assert NEW_YORK.slot_id(second) == NEW_YORK.slot_id(first) + 1


@pytest.mark.parametrize("bad", ["", "day", "week:2026-11", "day:2026-13-01", "month:2026-1",
                                 "day:2026-02-30", "month:1999-12", "hour:2026-11-20 13",
                                 "day:2027-02-29"])
def test_bad_names_are_refused(bad: str) -> None:
    with pytest.raises(InvalidPeriod):
        SAO_PAULO.parse_period(bad)


def test_an_hour_that_dst_skips_is_refused() -> None:
    with pytest.raises(InvalidPeriod, match="does not exist"):
        NEW_YORK.parse_period("hour:2026-03-08T02")


def test_period_containing_follows_local_time() -> None:
    # 22:00 in Sao Paulo on 30 November is 01:00 UTC on 1 December: still November
    t = datetime.fromisoformat("2026-11-30T22:00:00-03:00").timestamp()
    assert SAO_PAULO.period_containing(Step.MONTH, t).name == "month:2026-11"
    assert SAO_PAULO.period_containing(Step.DAY, t).name == "day:2026-11-30"
    assert Calendar("UTC").period_containing(Step.MONTH, t).name == "month:2026-12"
    assert SAO_PAULO.period_containing(Step.HOUR, t).is_closed(t + 3600)
    assert not SAO_PAULO.period_containing(Step.DAY, t).is_closed(t)


def test_an_unknown_time_zone_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="IANA"):
        Calendar("Mars/Olympus")
