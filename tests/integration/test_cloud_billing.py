"""Monthly invoices through the cloud: tariff by kind, flags, provisional vs issued,
months without readings, time-of-use posts, the list, paying, and debt cuts restored by
payment. The fog API is a contract stand-in on real HTTP; the cloud's Redis is real.
The cloud's clock is a FixedClock at fixed instants of November/December 2026 and the
readings are placed relative to them, so no test depends on today's date. (The
end-to-end invoice on real Mosquitto, Redis and fog node is in test_cloud_e2e.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

import pytest
import redis
from flask.testing import FlaskClient

from cloud import create_app
from cloud.directory import Customer, Directory
from cloud.fog_client import FogClient
from cloud.invoicing import Billing
from cloud.settings import load_tariff_book
from cloud.supply import SupplyControl
from nevoa_core.calendar import Calendar
from nevoa_core.clock import FixedClock
from nevoa_core.invoices import price
from nevoa_core.kinds import Kind
from nevoa_core.periods import Period, Step
from nevoa_core.tariffs import Flag
from nevoa_stack.services import RedisBinary, RedisContainer
from tests.integration.cloud_support import ContractFog, api_key, bearer

CAL = Calendar()  # America/Sao_Paulo: UTC-3 all year since 2019
MID_MONTH = datetime.fromisoformat("2026-11-20T12:00:00-03:00").timestamp()
THIS_MONTH = CAL.period_containing(Step.MONTH, MID_MONTH)              # 2026-11
LAST_MONTH = THIS_MONTH.previous()                                      # 2026-10
NEXT_MONTH = CAL.period_containing(Step.MONTH, THIS_MONTH.end_epoch)    # 2026-12
LAST_HOUR = THIS_MONTH.end_epoch - 1800    # 2026-11-30T23:30-03:00
FIRST_HOUR = NEXT_MONTH.start_epoch + 1800  # 2026-12-01T00:30-03:00: nothing read yet
BOOK = load_tariff_book("")
MARIA, BIA, LUIZA = "r1-e000001", "r1-w000001", "r1-e000005"
FIXED_ONLY = [("fixed", "9.50"), ("energy", "0.00"), ("tax", "1.71"), ("tax", "0.44")]


def maria_reads_until(fog: ContractFog, until: float) -> None:
    """maria's meter: 12.5 kWh a day, read at 23:00 local every day from the eve of last
    month on; adds the readings before ``until`` that the fog does not have yet."""
    d = len(fog.state.readings[MARIA])
    points = []
    while (t := LAST_MONTH.start_epoch - 3600 + d * 86400) < until:
        points.append((t, 1000 + 12.5 * d))
        d += 1
    fog.add_readings(MARIA, "electricity", points)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(MID_MONTH)


@pytest.fixture
def fog(clock: FixedClock) -> Iterator[ContractFog]:
    with ContractFog("r1") as fog:
        maria_reads_until(fog, clock.now())
        # bia's water meter: 0.9 m3 a day for 40 days from the eve of last month
        fog.add_readings(BIA, "water", [(LAST_MONTH.start_epoch - 3600 + d * 86400,
                                         50 + 0.9 * d) for d in range(40)])
        yield fog


@pytest.fixture
def client(session_redis: RedisBinary | RedisContainer, redis_client: redis.Redis,
           fog: ContractFog, clock: FixedClock) -> FlaskClient:
    Directory(redis_client).add_many([
        Customer("maria", "10001", MARIA, "r1"),
        Customer("bia", "10003", BIA, "r1"),
        Customer("caio", "10004", "r1-e000004", "r1"),  # no readings at all
        Customer("luiza", "10005", LUIZA, "r1", tariff="residential-white"),
    ])
    app = create_app({"REDIS_URL": session_redis.url, "SECRET_KEY": "s" * 32,
                      "FOG_URLS": {"r1": fog.url}, "INVOICE_DUE_DAYS": 0, "CLOCK": clock})
    return app.test_client()


def token(client: FlaskClient, username: str, registration: str) -> dict[str, str]:
    """Log in at the clock's instant (a token expires an hour later on that clock)."""
    r = client.post("/api/v1/auth/login", json={"username": username,
                                                "registration": registration})
    return bearer(r.json["token"])


def invoice_of(client: FlaskClient, registration: str, month: Period,
               headers: dict[str, str]) -> Any:
    return client.get(f"/api/v1/customers/{registration}/invoices/{month.label}",
                      headers=headers)


def consumption_in(fog: ContractFog, meter: str, month: Period) -> Decimal:
    used = fog.state.consumption(meter, month.start_epoch, month.end_epoch)
    return Decimal(repr(used))


def test_last_months_invoice_is_issued_once_with_its_lines(client: FlaskClient,
                                                           fog: ContractFog) -> None:
    maria = token(client, "maria", "10001")
    r = invoice_of(client, "10001", LAST_MONTH, maria)
    assert r.status_code == 200, r.json
    body = r.json
    expected = price(BOOK.for_kind(Kind.ELECTRICITY), consumption_in(fog, MARIA, LAST_MONTH),
                     Flag.GREEN)
    assert body["status"] == "open" and body["tariff"] == "residential"
    assert body["consumption"] == str(expected.consumption) == "387.500"  # 31 days
    assert body["total"] == str(expected.total) and body["currency"] == "BRL"
    assert body["note"] is None
    assert body["period_start"] == "2026-10-01T00:00:00-03:00"
    assert [line["code"] for line in body["lines"]] == ["fixed", "energy", "tax", "tax"]
    assert sum(Decimal(line["amount"]) for line in body["lines"]) == Decimal(body["total"])
    assert r.headers["Cache-Control"] == "no-store"  # paying changes it
    again = invoice_of(client, "10001", LAST_MONTH, maria)
    assert again.json["issued_at"] == body["issued_at"] == "2026-11-20T12:00:00-03:00"
    listed = client.get("/api/v1/customers/10001/invoices", headers=maria).json["invoices"]
    assert [(i["period"], i["status"], i["total"]) for i in listed] == [
        (LAST_MONTH.label, "open", body["total"])]


def test_water_uses_the_tiered_tariff(client: FlaskClient, fog: ContractFog) -> None:
    body = invoice_of(client, "10003", LAST_MONTH, token(client, "bia", "10003")).json
    used = consumption_in(fog, BIA, LAST_MONTH)
    assert body["tariff"] == "water-residential" and body["unit"] == "m3"
    assert body["total"] == str(price(BOOK.for_kind(Kind.WATER), used).total)
    assert body["lines"][0]["code"] == "minimum" and body["lines"][1]["code"] == "band"


def test_the_months_flag_is_applied_when_set_before_issue(
        session_redis: RedisBinary | RedisContainer, client: FlaskClient) -> None:
    ops = api_key(session_redis.url)
    r = client.put(f"/api/v1/tariff-flags/{LAST_MONTH.label}", headers=ops, json={"flag": "red2"})
    assert r.status_code == 200
    assert client.get(f"/api/v1/tariff-flags/{LAST_MONTH.label}").json["flag"] == "red2"
    body = invoice_of(client, "10001", LAST_MONTH, token(client, "maria", "10001")).json
    assert body["flag"] == "red2"
    assert "red2 flag surcharge" in [line["description"] for line in body["lines"]]
    assert client.put(f"/api/v1/tariff-flags/{LAST_MONTH.label}", headers=ops,
                      json={"flag": "blue"}).status_code == 400


@pytest.mark.parametrize("at", [MID_MONTH, LAST_HOUR], ids=["mid-month", "last-hour"])
def test_the_running_month_is_provisional_and_not_stored(client: FlaskClient, fog: ContractFog,
                                                         clock: FixedClock, at: float) -> None:
    maria_reads_until(fog, at)
    clock.set(at)
    maria = token(client, "maria", "10001")
    r = invoice_of(client, "10001", THIS_MONTH, maria)
    assert r.status_code == 200, r.json
    assert r.json["status"] == "provisional" and r.json["issued_at"] is None
    assert r.json["consumption"] == str(consumption_in(fog, MARIA, THIS_MONTH).quantize(
        Decimal("0.001")))
    assert r.json["note"] is None
    assert r.headers["Cache-Control"] == "private, max-age=60"
    assert client.get("/api/v1/customers/10001/invoices", headers=maria).json["invoices"] == []
    assert invoice_of(client, "10001", NEXT_MONTH, maria).status_code == 400  # not started


def test_the_first_hour_of_a_month_has_a_provisional_invoice_of_the_fixed_charges(
        client: FlaskClient, fog: ContractFog, clock: FixedClock) -> None:
    maria_reads_until(fog, FIRST_HOUR)  # the last reading: 23:00 on 30 November
    clock.set(FIRST_HOUR)
    maria = token(client, "maria", "10001")
    r = invoice_of(client, "10001", NEXT_MONTH, maria)
    assert r.status_code == 200, r.json
    body = r.json
    assert (body["status"], body["consumption"], body["total"]) == ("provisional", "0.000",
                                                                    "11.65")
    assert [(line["code"], line["amount"]) for line in body["lines"]] == FIXED_ONLY
    assert body["note"].startswith("no reading has arrived this month yet")
    # the month that has just ended is issued with all of its 30 days
    november = invoice_of(client, "10001", THIS_MONTH, maria).json
    assert (november["status"], november["consumption"], november["note"]) == (
        "open", "375.000", None)
    # a meter that has never reported gets the fixed charges of the running month too
    caio = invoice_of(client, "10004", NEXT_MONTH, token(client, "caio", "10004")).json
    assert (caio["status"], caio["total"]) == ("provisional", "11.65")


def test_a_closed_month_without_readings_is_issued_with_the_fixed_charges(
        client: FlaskClient, fog: ContractFog, clock: FixedClock) -> None:
    """maria's meter falls silent after 30 November: December is issued for the fixed
    charges, and what she used meanwhile is billed in the month of the next reading."""
    maria_reads_until(fog, FIRST_HOUR)
    january = CAL.period_containing(Step.MONTH, NEXT_MONTH.end_epoch)
    clock.set(january.start_epoch + 1800)
    maria = token(client, "maria", "10001")
    r = invoice_of(client, "10001", NEXT_MONTH, maria)
    assert r.status_code == 200, r.json
    december = r.json
    assert (december["status"], december["consumption"], december["total"]) == (
        "open", "0.000", "11.65")
    assert [(line["code"], line["amount"]) for line in december["lines"]] == FIXED_ONLY
    assert december["note"].startswith("no reading arrived in this month")
    assert december["due_at"] == "2027-01-01T00:00:00-03:00"
    assert invoice_of(client, "10001", NEXT_MONTH, maria).json["note"] == december["note"]
    last_register = fog.state.readings[MARIA][-1].register
    fog.add_readings(MARIA, "electricity", [(january.start_epoch + 86400, last_register + 400)])
    assert invoice_of(client, "10001", january, maria).json["consumption"] == "400.000"


def test_a_month_before_the_meter_ever_reported_has_no_invoice(client: FlaskClient) -> None:
    """Looking up an old month must not issue an invoice long overdue (and cut supply)."""
    maria = token(client, "maria", "10001")
    r = client.get("/api/v1/customers/10001/invoices/2025-08", headers=maria)
    assert r.status_code == 409 and "no reading in or before 2025-08" in r.json["error"]
    caio = invoice_of(client, "10004", LAST_MONTH, token(client, "caio", "10004"))
    assert caio.status_code == 409
    assert client.get("/api/v1/customers/10001/invoices", headers=maria).json["invoices"] == []


def hourly_pattern(hour: int) -> Decimal:
    """kWh in each local hour, every day alike (tests/unit/test_time_of_use.py's household)."""
    if 18 <= hour < 21:
        return Decimal("1.1")
    if hour in (17, 21):
        return Decimal("0.5")
    return Decimal("0.2")


def test_a_time_of_use_customer_pays_each_hour_at_its_post(
        session_redis: RedisBinary | RedisContainer, client: FlaskClient, fog: ContractFog,
        clock: FixedClock) -> None:
    """luiza, on the shipped tarifa branca, reads every half hour past each local hour of
    November 2026. Hand computation (tests/unit/test_time_of_use.py): 19 working days
    (30 days less 9 weekend days and the holidays of Monday 2 and Friday 20; the 15th is a
    Sunday), 11 off-peak days; 8.1 kWh a day."""
    register = Decimal(5000)
    points = [(THIS_MONTH.start_epoch - 1800, float(register))]
    for start in range(int(THIS_MONTH.start_epoch), int(THIS_MONTH.end_epoch), 3600):
        register += hourly_pattern(CAL.local(start).hour)
        points.append((start + 1800, float(register)))
    fog.add_readings(LUIZA, "electricity", points)
    clock.set(FIRST_HOUR)
    ops = api_key(session_redis.url)
    client.put(f"/api/v1/tariff-flags/{THIS_MONTH.label}", headers=ops, json={"flag": "yellow"})

    r = invoice_of(client, "10005", THIS_MONTH, token(client, "luiza", "10005"))
    assert r.status_code == 200, r.json
    body = r.json
    assert (body["tariff"], body["status"], body["flag"]) == ("residential-white", "open",
                                                              "yellow")
    assert [(line["code"], line["quantity"], line["unit_price"], line["amount"])
            for line in body["lines"]] == [
        ("fixed", None, None, "9.50"),
        ("peak", "62.700", "1.42", "89.03"),             # 19 x 3 x 1.1
        ("intermediate", "19.000", "0.90", "17.10"),     # 19 x 2 x 0.5
        ("off_peak", "161.300", "0.62", "100.01"),       # 19 x 19 x 0.2 + 11 x 8.1
        ("flag", "243.000", "0.01885", "4.58"),
        ("tax", "220.22", "0.18", "39.64"),
        ("tax", "220.22", "0.0465", "10.24"),
    ]
    assert (body["consumption"], body["subtotal"], body["taxes"], body["total"]) == (
        "243.000", "220.22", "49.88", "270.10")
    tariffs = {t["name"]: t for t in client.get("/api/v1/tariffs").json["tariffs"]}
    white = tariffs["residential-white"]
    assert white["type"] == "time_of_use" and white["peak_hours"] == [
        {"from": "18:00", "to": "21:00"}]
    assert "2026-11-20" in white["holidays"]


def test_the_running_month_of_a_time_of_use_customer_without_readings(
        client: FlaskClient, clock: FixedClock) -> None:
    clock.set(FIRST_HOUR)
    body = invoice_of(client, "10005", NEXT_MONTH, token(client, "luiza", "10005")).json
    assert [(line["code"], line["amount"]) for line in body["lines"]] == [
        ("fixed", "9.50"), ("peak", "0.00"), ("intermediate", "0.00"), ("off_peak", "0.00"),
        ("tax", "1.71"), ("tax", "0.44")]
    assert body["status"] == "provisional" and body["note"]


class HourlyFog:
    """Records the hourly rollup requests; one bucket of 1 kWh per hour asked for."""

    def __init__(self) -> None:
        self.asked: list[tuple[float, float]] = []

    def rollups(self, region: str, meter: str, step: str, start: float,
                end: float) -> list[dict[str, Any]]:
        assert step == "hour"
        self.asked.append((start, end))
        return [{"start": float(t), "consumption": 1.0, "register": None}
                for t in range(int(start), int(end), 3600)]


def test_a_month_longer_than_the_fogs_hourly_limit_is_asked_in_two_parts(
        redis_client: redis.Redis) -> None:
    """October 2026 in Lisbon lasts 31 days and an hour (DST ends on the 25th): more than
    the 31 days of hours the fog gives per request."""
    lisbon = Calendar("Europe/Lisbon")
    october = lisbon.parse_period_label(Step.MONTH, "2026-10")
    assert october.seconds == 31 * 86400 + 3600
    fogs = HourlyFog()
    billing = Billing(redis_client, Directory(redis_client), cast(FogClient, fogs), BOOK,
                      cast(SupplyControl, None), 15, Flag.GREEN, lisbon)
    customer = Customer("luiza", "10005", LUIZA, "r1", tariff="residential-white")
    invoice = billing.compute(customer, october, now=october.end_epoch + 60)
    assert fogs.asked == [(october.start_epoch, october.start_epoch + 31 * 86400),
                          (october.start_epoch + 31 * 86400, october.end_epoch)]
    assert invoice.bill.consumption == Decimal("745.000")  # every hour, once


def test_an_overdue_invoice_cuts_supply_and_paying_restores_it(
        session_redis: RedisBinary | RedisContainer, client: FlaskClient,
        fog: ContractFog) -> None:
    maria = token(client, "maria", "10001")
    ops = api_key(session_redis.url)
    invoice_of(client, "10001", LAST_MONTH, maria)
    cuts = client.post("/api/v1/billing/overdue-cuts", headers=ops).json["cuts"]
    assert [(c["registration"], c["meter"]) for c in cuts] == [("10001", MARIA)]
    cut = fog.state.commands[cuts[0]["command_id"]]
    assert (cut["action"], cut["reason"], cut["by"]) == ("close_valve", "debt", "ana-ops")
    assert client.post("/api/v1/billing/overdue-cuts", headers=ops).json["cuts"] == []
    alerts = client.get("/api/v1/customers/10001/alerts", headers=maria).json
    assert alerts["supply"]["state"] == "cut" and alerts["supply"]["reason"] == "debt"

    r = client.post(f"/api/v1/customers/10001/invoices/{LAST_MONTH.label}/payment",
                    headers=maria)
    assert r.status_code == 200, r.json
    assert r.json["invoice"]["status"] == "paid"
    assert r.json["invoice"]["paid_at"] == "2026-11-20T12:00:00-03:00"
    restore = fog.state.commands[r.json["supply_restored"]["command_id"]]
    assert (restore["action"], restore["reason"]) == ("open_valve", "payment")
    state = client.get(f"/api/v1/meters/{MARIA}/supply", headers=ops).json
    assert state["state"] == "supplied"
    again = client.post(f"/api/v1/customers/10001/invoices/{LAST_MONTH.label}/payment",
                        headers=maria)
    assert again.status_code == 409


def test_paying_does_not_restore_a_cut_made_for_another_reason(
        session_redis: RedisBinary | RedisContainer, client: FlaskClient) -> None:
    maria = token(client, "maria", "10001")
    ops = api_key(session_redis.url)
    invoice_of(client, "10001", LAST_MONTH, maria)
    client.post(f"/api/v1/meters/{MARIA}/supply", headers=ops,
                json={"action": "cut", "reason": "cap"})
    r = client.post(f"/api/v1/customers/10001/invoices/{LAST_MONTH.label}/payment",
                    headers=maria)
    assert r.json["supply_restored"] is None
    assert client.get(f"/api/v1/meters/{MARIA}/supply", headers=ops).json["reason"] == "cap"
    r = client.post("/api/v1/customers/10001/invoices/2001-01/payment", headers=maria)
    assert r.status_code == 404


def test_a_payment_whose_restore_cannot_reach_the_region_is_completed_later(
        session_redis: RedisBinary | RedisContainer, client: FlaskClient,
        fog: ContractFog, clock: FixedClock) -> None:
    maria = token(client, "maria", "10001")
    ops = api_key(session_redis.url)
    invoice_of(client, "10001", LAST_MONTH, maria)
    assert len(client.post("/api/v1/billing/overdue-cuts", headers=ops).json["cuts"]) == 1
    region_down = create_app({"REDIS_URL": session_redis.url, "SECRET_KEY": "s" * 32,
                              "FOG_URLS": {"r1": "http://127.0.0.1:9"},
                              "CLOCK": clock}).test_client()
    r = region_down.post(f"/api/v1/customers/10001/invoices/{LAST_MONTH.label}/payment",
                         headers=maria)
    assert r.status_code == 200 and r.json["invoice"]["status"] == "paid"
    assert r.json["supply_restored"] is None and "r1" in r.json["supply_restore_error"]
    done = client.post("/api/v1/billing/overdue-cuts", headers=ops).json
    assert done["cuts"] == [] and [c["registration"] for c in done["restored"]] == ["10001"]
    assert fog.state.commands[done["restored"][0]["command_id"]]["action"] == "open_valve"
    assert client.get(f"/api/v1/meters/{MARIA}/supply", headers=ops).json["state"] == "supplied"
