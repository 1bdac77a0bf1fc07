"""The cloud end to end on real parts, at each instant of tests/instants.py: readings
published to each region's Mosquitto, stored by the real fog node in its Redis, answered
by the cloud served by waitress, every process's clock pinned to the instant and the
utility's calendar set to its zone — the monthly invoice, the exact top-N across two
regions, and readings late on the last day of a month (rollover included) that the
invoice, the history and the seed's route all count the same."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from cloud.settings import load_tariff_book
from nevoa_core import topics
from nevoa_core.calendar import Calendar
from nevoa_core.clock import ShiftedClock
from nevoa_core.consumption import link
from nevoa_core.invoices import price
from nevoa_core.kinds import Kind
from nevoa_core.periods import Period, Step
from nevoa_core.senml import Reading, encode_pack
from nevoa_stack.stack import LocalStack
from tests.instants import Instant
from tests.support import http, publish_qos1, two_region_stack, wait_until

Ledger = dict[str, list[Reading]]  # every reading the tests published, per meter


@pytest.fixture(scope="module")
def clock(module_instant: Instant) -> ShiftedClock:
    return ShiftedClock(module_instant.epoch)


@pytest.fixture(scope="module")
def calendar(module_instant: Instant) -> Calendar:
    return module_instant.calendar


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, module_instant: Instant,
          clock: ShiftedClock) -> Iterator[LocalStack]:
    with two_region_stack(tmp_path_factory.mktemp("stack"), demo_meters_per_region=6,
                          clock=clock, timezone=module_instant.zone) as s:
        yield s


@pytest.fixture(scope="module")
def ledger(stack: LocalStack) -> Ledger:
    """What the tests published to this instant's stack."""
    return defaultdict(list)


def this_month(calendar: Calendar, clock: ShiftedClock) -> Period:
    return calendar.period_containing(Step.MONTH, clock.now())


def publish(stack: LocalStack, ledger: Ledger, meter: str,
            points: list[tuple[float, float]]) -> None:
    region = meter.split("-")[0]
    rp = stack.region_processes[region]
    first = len(ledger[meter]) + 1
    readings = [Reading(meter, seq, t, Kind.ELECTRICITY, register)
                for seq, (t, register) in enumerate(points, start=first)]
    publish_qos1(rp.broker.host, rp.broker.port, [
        (topics.reading(region, meter), encode_pack(meter, [r])) for r in readings],
        client_id=f"test-{meter}")
    ledger[meter] += readings
    wait_until(lambda: stored(stack, region, meter, len(ledger[meter])),
               what=f"{meter}'s readings stored")


def stored(stack: LocalStack, region: str, meter: str, count: int) -> bool:
    status, body = http("GET", f"{stack.region_processes[region].fog_url}"
                        f"/api/v1/meters/{meter}/readings?limit=100")
    return status == 200 and len(body["readings"]) == count


def brute_force_top(ledger: Ledger, period: Period, n: int) -> list[tuple[str, float]]:
    """Each meter's consumption in the period from every reading published, by the
    consumption rule, each link counted in the period of its later reading."""
    used: dict[str, Decimal] = {}
    for meter, readings in ledger.items():
        ordered = sorted(readings, key=lambda r: r.seq)
        inside = [r for r in ordered if period.contains(r.time)]
        if inside:
            used[meter] = sum((link(a.register, b.register).consumed
                               for a, b in itertools.pairwise(ordered)
                               if period.contains(b.time)), Decimal(0))
    ranked = sorted(used.items(), key=lambda item: (-item[1], item[0]))[:n]
    return [(m, float(c)) for m, c in ranked]


def cloud(stack: LocalStack, path: str, headers: dict[str, str] | None = None,
          method: str = "GET", body: object = None) -> tuple[int, dict[str, object]]:
    return http(method, stack.cloud_url + path, body, headers=headers)


def login(stack: LocalStack, username: str, registration: str) -> dict[str, str]:
    status, body = cloud(stack, "/api/v1/auth/login", method="POST",
                         body={"username": username, "registration": registration})
    assert status == 200, body
    return {"Authorization": f"Bearer {body['token']}"}


def local(calendar: Calendar, day: Period, hour: int, minute: int = 0) -> float:
    """The instant of a local wall-clock time on a day (never one DST skips)."""
    d = day.first_day
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=calendar.zone).timestamp()


def test_the_stack_runs_on_the_pinned_clock_and_calendar(
        stack: LocalStack, module_instant: Instant, clock: ShiftedClock) -> None:
    status, health = cloud(stack, "/health")
    assert status == 200 and health["timezone"] == module_instant.zone
    shown = datetime.fromisoformat(str(health["now"])).timestamp()
    assert abs(shown - clock.now()) < 5


def test_last_months_invoice_end_to_end(stack: LocalStack, ledger: Ledger, calendar: Calendar,
                                        clock: ShiftedClock) -> None:
    last_month = this_month(calendar, clock).previous()
    start, end = last_month.start_epoch, last_month.end_epoch
    points = [(start - 3600, 100.0), (start + 5 * 86400, 160.0), (start + 20 * 86400, 250.5),
              (end - 3600, 330.25)]
    publish(stack, ledger, "r1-e000001", points)
    maria = login(stack, "maria", "10001")
    status, invoice = cloud(stack, f"/api/v1/customers/10001/invoices/{last_month.label}", maria)
    assert status == 200, invoice
    expected = price(load_tariff_book("").for_kind(Kind.ELECTRICITY), Decimal("230.25"))
    assert (invoice["consumption"], invoice["status"]) == ("230.250", "open")
    assert invoice["total"] == str(expected.total)
    assert [line["amount"] for line in invoice["lines"]] == [
        str(line.amount) for line in expected.lines]
    assert invoice["period_start"] == calendar.iso(start)
    status, _ = cloud(stack, f"/api/v1/customers/10002/invoices/{last_month.label}", maria)
    assert status == 403


def test_the_running_month_has_an_invoice_from_its_first_hour(
        stack: LocalStack, calendar: Calendar, clock: ShiftedClock) -> None:
    """joao's meter has sent nothing this month: a provisional invoice all the same."""
    month = this_month(calendar, clock)
    joao = login(stack, "joao", "10002")
    status, invoice = cloud(stack, f"/api/v1/customers/10002/invoices/{month.label}", joao)
    assert status == 200, invoice
    assert (invoice["status"], invoice["consumption"]) == ("provisional", "0.000")


def test_top_n_across_two_regions_is_exact(stack: LocalStack, ledger: Ledger,
                                           calendar: Calendar, clock: ShiftedClock) -> None:
    yesterday = calendar.period_containing(Step.DAY, clock.now()).previous()
    t0 = local(calendar, yesterday, 10)
    used = {"r1-e000002": 7.5, "r1-e000003": 12.25, "r1-e000004": 3.0,
            "r2-e000002": 12.25, "r2-e000003": 30.0, "r2-e000004": 0.5}
    for meter, amount in used.items():
        publish(stack, ledger, meter, [(t0, 1000.0), (t0 + 3600, 1000.0 + amount)])
    ops = {"X-API-Key": str(stack.operator_key), "Cache-Control": "no-cache"}
    status, body = cloud(stack, f"/api/v1/top?period={yesterday.name}&n=4", ops)
    assert status == 200, body
    assert [(i["meter"], i["consumption"]) for i in body["items"]] == \
        brute_force_top(ledger, yesterday, 4)
    registrations = {i["meter"]: i["registration"] for i in body["items"]}
    assert registrations["r2-e000003"] == "2000003" and body["partial"] is False
    status, body = cloud(stack, f"/api/v1/regions/stats?period={yesterday.name}", ops)
    expected = brute_force_top(ledger, yesterday, 100)
    assert status == 200 and body["city"]["meters"] == len(expected)
    assert body["city"]["mean"] == pytest.approx(
        sum(c for _, c in expected) / len(expected), abs=1e-3)


def test_readings_late_on_the_last_day_of_a_month_count_the_same_everywhere(
        stack: LocalStack, ledger: Ledger, calendar: Calendar, clock: ShiftedClock) -> None:
    """22:00 and 23:30 local on the last day of last month, the register rolling over
    between them: that month's invoice, that day of the history and the seed's invoice
    all say 12.5 kWh (99,990 -> 2.5 on a 100,000 kWh register)."""
    last_month = this_month(calendar, clock).previous()
    last_day = calendar.period_containing(Step.DAY, last_month.end_epoch - 1)
    late, later = local(calendar, last_day, 22), local(calendar, last_day, 23, 30)
    publish(stack, ledger, "r1-e000005", [(late, 99_990.0), (later, 2.5)])
    who = login(stack, "customer-r1-000005", "1000005")
    status, invoice = cloud(stack, f"/api/v1/customers/1000005/invoices/{last_month.label}", who)
    assert status == 200, invoice
    assert invoice["consumption"] == "12.500"
    span = f"from={int(last_day.start_epoch)}&to={int(last_day.end_epoch)}"
    status, days = cloud(stack, f"/api/v1/customers/1000005/history?step=day&{span}", who)
    assert status == 200, days
    assert [(p["time"], p["consumption"]) for p in days["points"]] == [  # type: ignore[index]
        (calendar.iso(last_day.start_epoch), "12.500")]
    status, hours = cloud(stack, f"/api/v1/customers/1000005/history?step=hour&{span}", who)
    assert status == 200, hours
    assert [(p["time"], p["consumption"]) for p in hours["points"]] == [  # type: ignore[index]
        (calendar.iso(late), "0.000"), (calendar.iso(later - 1800), "12.500")]
    assert days["total"] == hours["total"] == "12.500"
    status, seed = cloud(stack, "/gerar-fatura", method="POST", body={"matricula": "1000005"})
    assert status == 200, seed
    assert seed["consumo"] == 12.5 and seed["valor"] == 37.5
    assert datetime.fromisoformat(str(seed["periodo"]["fim"])).timestamp() == later  # type: ignore[index]
    assert timedelta(seconds=later - late) == timedelta(minutes=90)
