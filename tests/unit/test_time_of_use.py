"""Time-of-use (tarifa branca): which post an hour pays, the tariff's configuration, and a
month priced by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from nevoa_core.calendar import Calendar
from nevoa_core.invoices import price
from nevoa_core.periods import Step
from nevoa_core.tariffs import Flag, TariffError, TimeOfUseTariff, parse_tariff, parse_tariff_book
from nevoa_core.time_of_use import ClockHours, InvalidSchedule, Post, Schedule, usage_by_post

D = Decimal
SAO_PAULO = Calendar("America/Sao_Paulo")
HOLIDAYS = ["2026-11-02", "2026-11-15", "2026-11-20"]


def white(**overrides: Any) -> dict[str, Any]:
    """A tarifa branca as the tariff book writes it."""
    spec: dict[str, Any] = {
        "type": "time_of_use", "unit": "kWh", "fixed_charge": "9.50",
        "prices": {"off_peak": "0.62", "intermediate": "0.90", "peak": "1.42"},
        "peak_hours": [{"from": "18:00", "to": "21:00"}],
        "intermediate_hours": [{"from": "17:00", "to": "18:00"},
                               {"from": "21:00", "to": "22:00"}],
        "holidays": HOLIDAYS,
        "flag_surcharges": {"green": "0", "yellow": "0.01885"},
        "taxes": [{"name": "ICMS", "rate": "0.18"}, {"name": "PIS/COFINS", "rate": "0.0465"}],
    }
    spec.update(overrides)
    return spec


TARIFF = parse_tariff("residential-white", white())
assert isinstance(TARIFF, TimeOfUseTariff)
SCHEDULE = TARIFF.schedule


def local(text: str, calendar: Calendar = SAO_PAULO) -> datetime:
    """A local wall-clock time of the calendar's zone, as Calendar.local gives it."""
    naive = datetime.fromisoformat(text)
    return calendar.local(naive.replace(tzinfo=calendar.zone).timestamp())


# -- classification ---------------------------------------------------------------------

@pytest.mark.parametrize(("clock", "post"), [
    ("00:00", Post.OFF_PEAK),
    ("16:59", Post.OFF_PEAK),
    ("17:00", Post.INTERMEDIATE),   # the hour before the peak
    ("17:59", Post.INTERMEDIATE),
    ("18:00", Post.PEAK),
    ("20:59", Post.PEAK),
    ("21:00", Post.INTERMEDIATE),   # the hour after it
    ("21:59", Post.INTERMEDIATE),
    ("22:00", Post.OFF_PEAK),
    ("23:59", Post.OFF_PEAK),
])
def test_a_working_days_posts_at_each_boundary(clock: str, post: Post) -> None:
    assert SCHEDULE.post_at(local(f"2026-11-18T{clock}")) is post  # a Wednesday


@pytest.mark.parametrize("day", ["2026-11-21", "2026-11-22"])  # Saturday, Sunday
def test_weekends_are_off_peak_all_day(day: str) -> None:
    assert {SCHEDULE.post_at(local(f"{day}T{h:02d}:30")) for h in range(24)} == {Post.OFF_PEAK}


def test_holidays_are_off_peak_all_day_and_the_next_working_day_is_not() -> None:
    # Friday 20 November 2026 (Consciência Negra), Monday 2 November (Finados)
    for day in ("2026-11-20", "2026-11-02"):
        assert SCHEDULE.post_at(local(f"{day}T19:00")) is Post.OFF_PEAK
    assert SCHEDULE.post_at(local("2026-11-23T19:00")) is Post.PEAK
    assert not SCHEDULE.is_working_day(date(2026, 11, 20))
    assert SCHEDULE.is_working_day(date(2026, 11, 19))


def test_the_post_follows_the_local_clock_through_dst() -> None:
    # São Paulo still had DST in 2018 (from 4 November): the same UTC time of day is
    # 17:30 local (-03) the Monday before and 18:30 local (-02) the Monday after
    before = datetime(2018, 10, 29, 20, 30, tzinfo=UTC).timestamp()
    after = datetime(2018, 11, 5, 20, 30, tzinfo=UTC).timestamp()
    assert SCHEDULE.post_at(SAO_PAULO.local(before)) is Post.INTERMEDIATE
    assert SCHEDULE.post_at(SAO_PAULO.local(after)) is Post.PEAK


def local_day_buckets(calendar: Calendar, day: date) -> list[datetime]:
    """The local starts of a day's hourly buckets, as the fog makes them."""
    number = (day - date(1970, 1, 1)).days
    start, end = calendar.day_start(number), calendar.day_start(number + 1)
    return [calendar.local(t) for t in range(int(start), int(end), 3600)]


def test_a_25_hour_weekday_classifies_its_repeated_hour_twice() -> None:
    # Cairo leaves DST at the end of Thursday 29 October 2026: 23:00 happens twice
    cairo = Calendar("Africa/Cairo")
    late_peak = Schedule((ClockHours(22, 24),), (ClockHours(20, 22),))
    buckets = local_day_buckets(cairo, date(2026, 10, 29))
    assert len(buckets) == 25
    posts = [late_peak.post_at(b) for b in buckets]
    assert posts.count(Post.PEAK) == 3  # 22:00, 23:00 and 23:00 again
    assert posts.count(Post.INTERMEDIATE) == 2 and posts.count(Post.OFF_PEAK) == 20


def test_a_23_hour_weekday_has_its_full_peak() -> None:
    # Cairo enters DST at the start of Friday 24 April 2026: 00:00 is skipped
    buckets = local_day_buckets(Calendar("Africa/Cairo"), date(2026, 4, 24))
    assert len(buckets) == 23 and buckets[0].hour == 1
    posts = [SCHEDULE.post_at(b) for b in buckets]
    assert (posts.count(Post.PEAK), posts.count(Post.INTERMEDIATE)) == (3, 2)


def test_schedules_refuse_overlaps_and_windows_outside_a_day() -> None:
    with pytest.raises(InvalidSchedule, match="peak 18:00-21:00 overlaps intermediate 20:00-22:00"):
        Schedule((ClockHours(18, 21),), (ClockHours(20, 22),))
    with pytest.raises(InvalidSchedule, match="at least one peak"):
        Schedule(())
    with pytest.raises(InvalidSchedule, match="one day"):
        ClockHours(21, 18)


# -- configuration ----------------------------------------------------------------------

@pytest.mark.parametrize(("overrides", "message"), [
    ({"intermediate_hours": [{"from": "20:00", "to": "22:00"}]},
     "peak 18:00-21:00 overlaps intermediate 20:00-22:00"),
    ({"peak_hours": [{"from": "18:00", "to": "20:00"}, {"from": "19:00", "to": "21:00"}],
      "intermediate_hours": []}, "peak 18:00-20:00 overlaps peak 19:00-21:00"),
    ({"intermediate_hours": [{"from": "17:00", "to": "18:00"}, {"from": "17:00", "to": "18:00"}]},
     "intermediate 17:00-18:00 overlaps intermediate 17:00-18:00"),
    ({"peak_hours": [{"from": "18:30", "to": "21:00"}]}, r"peak_hours\[0\]\.from .* whole hour"),
    ({"peak_hours": [{"from": "18:00", "to": "25:00"}]}, r"peak_hours\[0\]\.to .* whole hour"),
    ({"peak_hours": [{"from": "6pm", "to": "21:00"}]}, "local clock hour"),
    ({"peak_hours": [{"from": 18, "to": 21}]}, "local clock hour"),
    ({"peak_hours": [{"from": "21:00", "to": "18:00"}]}, "after from on the same day"),
    ({"peak_hours": [{"from": "22:00", "to": "00:00"}]}, "crosses midnight"),
    ({"peak_hours": []}, "peak_hours must be a non-empty list"),
    ({"peak_hours": None}, "peak_hours must be a non-empty list"),
    ({"intermediate_hours": "17-18"}, "intermediate_hours must be a list"),
    ({"holidays": ["2026-02-30"]}, r"holidays\[0\] '2026-02-30' is not a date"),
    ({"holidays": ["2026-11-02", "25/12/2026"]}, r"holidays\[1\] must be a date written"),
    ({"holidays": ["2026-1-2"]}, "YYYY-MM-DD"),
    ({"holidays": "2026-12-25"}, "holidays must be a list"),
    ({"prices": {"off_peak": "0.62", "intermediate": "0.90"}}, r"prices\.peak .*decimal"),
    ({"prices": {"off_peak": "0.62", "intermediate": "0.90", "peak": "1.42",
                 "shoulder": "1"}}, "unknown post"),
    ({"prices": {"off_peak": 0.62, "intermediate": "0.90", "peak": "1.42"}}, "not a float"),
    ({"flag_surcharges": {"purple": "1"}}, "unknown flag"),
])
def test_bad_time_of_use_configuration_is_refused_with_the_field(
        overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(TariffError, match=message):
        parse_tariff("white", white(**overrides))


def test_the_books_holidays_join_the_tariffs_own() -> None:
    book = parse_tariff_book({"holidays": ["2026-12-25"], "tariffs": {
        "white": white(holidays=["2026-11-20"]), "flat": {"type": "flat", "rate": "1"}}})
    tariff = book.get("white")
    assert isinstance(tariff, TimeOfUseTariff)
    assert tariff.schedule.holidays == {date(2026, 12, 25), date(2026, 11, 20)}
    with pytest.raises(TariffError, match=r"^holidays\[0\]"):
        parse_tariff_book({"holidays": ["Christmas"], "tariffs": {}})


def test_midnight_is_written_24_00_and_windows_may_be_split_around_it() -> None:
    t = parse_tariff("night", white(peak_hours=[{"from": "22:00", "to": "24:00"},
                                                {"from": "00:00", "to": "01:00"}],
                                    intermediate_hours=[]))
    assert isinstance(t, TimeOfUseTariff)
    assert t.schedule.post_at(local("2026-11-18T23:30")) is Post.PEAK
    assert t.schedule.post_at(local("2026-11-18T00:30")) is Post.PEAK
    assert t.schedule.post_at(local("2026-11-18T01:00")) is Post.OFF_PEAK


# -- pricing ----------------------------------------------------------------------------

def hourly_pattern(hour: int) -> Decimal:
    """kWh used in each local hour, every day alike: an evening-heavy household."""
    if 18 <= hour < 21:
        return D("1.1")
    if hour in (17, 21):
        return D("0.5")
    return D("0.2")  # the 19 other hours


def test_a_month_priced_by_hand() -> None:
    """November 2026 in São Paulo (UTC-3 all month): 30 days of 8.1 kWh (19 x 0.2 +
    2 x 0.5 + 3 x 1.1) = 243.0 kWh. Weekends: Sundays 1, 8, 15, 22, 29 and Saturdays 7,
    14, 21, 28 (9 days); holidays on weekdays: Mon 2 and Fri 20 (the 15th is a Sunday).
    Working days: 30 - 9 - 2 = 19; off-peak days: 11.

    peak          19 x 3 x 1.1                 =  62.7 kWh x 1.42 =  89.034 ->  89.03
    intermediate  19 x 2 x 0.5                 =  19.0 kWh x 0.90 =  17.10
    off-peak      19 x 19 x 0.2 + 11 x 8.1     = 161.3 kWh x 0.62 = 100.006 -> 100.01
                  (72.2 + 89.1)
    fixed charge                                                       9.50
    yellow flag   243.0 kWh x 0.01885 = 4.58055                    ->   4.58
    subtotal      9.50 + 89.03 + 17.10 + 100.01 + 4.58                = 220.22
    ICMS          220.22 x 0.18   = 39.6396                        ->  39.64
    PIS/COFINS    220.22 x 0.0465 = 10.240230                      ->  10.24
    total         220.22 + 39.64 + 10.24                             = 270.10
    """
    month = SAO_PAULO.parse_period_label(Step.MONTH, "2026-11")
    starts = range(int(month.start_epoch), int(month.end_epoch), 3600)
    assert len(starts) == 30 * 24
    buckets = [(SAO_PAULO.local(t), hourly_pattern(SAO_PAULO.local(t).hour)) for t in starts]
    used = usage_by_post(SCHEDULE, buckets)
    assert used == {Post.PEAK: D("62.7"), Post.INTERMEDIATE: D("19.0"),
                    Post.OFF_PEAK: D("161.3")}

    bill = price(TARIFF, used, Flag.YELLOW)
    assert [(line.code, line.quantity, line.unit_price, line.amount) for line in bill.lines] == [
        ("fixed", None, None, D("9.50")),
        ("peak", D("62.700"), D("1.42"), D("89.03")),
        ("intermediate", D("19.000"), D("0.90"), D("17.10")),
        ("off_peak", D("161.300"), D("0.62"), D("100.01")),
        ("flag", D("243.000"), D("0.01885"), D("4.58")),
        ("tax", D("220.22"), D("0.18"), D("39.64")),
        ("tax", D("220.22"), D("0.0465"), D("10.24")),
    ]
    assert bill.consumption == D("243.000") and bill.unit == "kWh" and bill.flag is Flag.YELLOW
    assert (bill.subtotal, bill.taxes, bill.total) == (D("220.22"), D("49.88"), D("270.10"))
    assert bill.lines[1].description == "peak energy: 18:00-21:00 on working days"
    assert bill.lines[2].description == \
        "intermediate energy: 17:00-18:00 and 21:00-22:00 on working days"
    assert bill.lines[3].description == "off-peak energy: other hours, weekends and holidays"


def test_each_post_is_rounded_and_the_consumption_is_their_sum() -> None:
    bill = price(TARIFF, {Post.PEAK: D("0.0005"), Post.OFF_PEAK: 1.0004})
    quantities = {line.code: line.quantity for line in bill.lines[1:4]}
    assert quantities == {"peak": D("0.001"), "intermediate": D("0.000"),
                          "off_peak": D("1.000")}
    assert bill.consumption == D("1.001")
    assert sum(line.amount for line in bill.lines) == bill.total


def test_no_consumption_bills_the_fixed_charge_and_its_taxes() -> None:
    bill = price(TARIFF, {})
    assert [(line.code, line.amount) for line in bill.lines] == [
        ("fixed", D("9.50")), ("peak", D("0.00")), ("intermediate", D("0.00")),
        ("off_peak", D("0.00")), ("tax", D("1.71")), ("tax", D("0.44"))]
    assert bill.consumption == D("0.000") and bill.total == D("11.65")


def test_a_time_of_use_tariff_needs_consumption_per_post_and_others_do_not() -> None:
    with pytest.raises(TypeError, match="per post"):
        price(TARIFF, D("10"))
    with pytest.raises(TypeError, match="not posts"):
        price(parse_tariff("f", {"type": "flat", "rate": "1"}), {Post.PEAK: D("1")})
