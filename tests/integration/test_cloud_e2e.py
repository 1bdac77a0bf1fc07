"""The cloud end to end on real parts: readings published to each region's Mosquitto,
stored by the real fog node in its Redis, answered by the cloud served by waitress —
the monthly invoice, the exact top-N across two regions, and a partial answer within
the timeout when a region's fog node hangs or is stopped."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from cloud.settings import load_tariff_book
from nevoa_core import topics
from nevoa_core.invoices import price
from nevoa_core.kinds import Kind
from nevoa_core.periods import Step, period_containing
from nevoa_core.senml import Reading, encode_pack
from nevoa_stack.stack import LocalStack
from tests.support import http, publish_qos1, two_region_stack, wait_until

THIS_MONTH = period_containing(Step.MONTH, time.time())
LAST_MONTH = period_containing(Step.MONTH, THIS_MONTH.start_epoch - 1)
YESTERDAY = period_containing(Step.DAY, time.time() - 86400)
FOG_TIMEOUT = 2.0  # the cloud's default


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with two_region_stack(tmp_path_factory.mktemp("stack"), demo_meters_per_region=4) as s:
        yield s


def publish(stack: LocalStack, region: str, meter: str, points: list[tuple[float, float]]) -> None:
    rp = stack.region_processes[region]
    publish_qos1(rp.broker.host, rp.broker.port, [
        (topics.reading(region, meter),
         encode_pack(meter, [Reading(meter, seq, t, Kind.ELECTRICITY, register)]))
        for seq, (t, register) in enumerate(points, start=1)
    ], client_id=f"test-{meter}")


def stored(stack: LocalStack, region: str, meter: str, count: int) -> bool:
    status, body = http("GET", f"{stack.region_processes[region].fog_url}"
                        f"/api/v1/meters/{meter}/readings?limit=100")
    return status == 200 and len(body["readings"]) == count


def cloud(stack: LocalStack, path: str, headers: dict[str, str] | None = None,
          method: str = "GET", body: object = None) -> tuple[int, dict[str, object]]:
    return http(method, stack.cloud_url + path, body, headers=headers)


def login(stack: LocalStack, username: str, registration: str) -> dict[str, str]:
    status, body = cloud(stack, "/api/v1/auth/login", method="POST",
                         body={"username": username, "registration": registration})
    assert status == 200, body
    return {"Authorization": f"Bearer {body['token']}"}


def test_last_months_invoice_end_to_end(stack: LocalStack) -> None:
    start, end = LAST_MONTH.start_epoch, LAST_MONTH.end_epoch
    points = [(start - 3600, 100.0), (start + 5 * 86400, 160.0), (start + 20 * 86400, 250.5),
              (end - 3600, 330.25)]
    publish(stack, "r1", "r1-e000001", points)
    wait_until(lambda: stored(stack, "r1", "r1-e000001", 4), what="maria's readings stored")
    maria = login(stack, "maria", "10001")
    status, invoice = cloud(stack, f"/api/v1/customers/10001/invoices/{LAST_MONTH.label}", maria)
    assert status == 200, invoice
    expected = price(load_tariff_book("").for_kind(Kind.ELECTRICITY), Decimal("230.25"))
    assert (invoice["consumption"], invoice["status"]) == ("230.250", "open")
    assert invoice["total"] == str(expected.total)
    assert [line["amount"] for line in invoice["lines"]] == [
        str(line.amount) for line in expected.lines]
    status, _ = cloud(stack, f"/api/v1/customers/10002/invoices/{LAST_MONTH.label}", maria)
    assert status == 403


def test_top_n_across_two_regions_is_exact(stack: LocalStack) -> None:
    t0 = YESTERDAY.start_epoch + 10 * 3600
    used = {"r1-e000002": 7.5, "r1-e000003": 12.25, "r1-e000004": 3.0,
            "r2-e000002": 12.25, "r2-e000003": 30.0, "r2-e000004": 0.5}
    for meter, amount in used.items():
        publish(stack, meter[:2], meter, [(t0, 1000.0), (t0 + 3600, 1000.0 + amount)])
    for meter in used:
        wait_until(lambda m=meter: stored(stack, m[:2], m, 2), what=f"{meter} stored")
    ops = {"X-API-Key": str(stack.operator_key), "Cache-Control": "no-cache"}
    status, body = cloud(stack, f"/api/v1/top?period={YESTERDAY.name}&n=4", ops)
    assert status == 200, body
    assert [(i["meter"], i["consumption"]) for i in body["items"]] == [
        ("r2-e000003", 30.0), ("r1-e000003", 12.25), ("r2-e000002", 12.25),
        ("r1-e000002", 7.5)]
    assert body["partial"] is False and body["items"][0]["registration"] == "2000003"
    status, body = cloud(stack, f"/api/v1/regions/stats?period={YESTERDAY.name}", ops)
    assert status == 200 and body["city"]["meters"] == 6
    assert body["city"]["mean"] == pytest.approx(sum(used.values()) / 6, abs=1e-3)


def test_a_region_that_hangs_or_stops_gives_a_partial_answer_within_the_timeout(
        stack: LocalStack) -> None:
    ops = {"X-API-Key": str(stack.operator_key), "Cache-Control": "no-cache"}
    fog = stack.region_processes["r2"].fog
    assert fog is not None and fog.proc is not None
    fog.proc.send_signal(signal.SIGSTOP)  # the process is there and answers nothing
    try:
        started = time.monotonic()
        status, body = cloud(stack, f"/api/v1/top?period={YESTERDAY.name}&n=3", ops)
        elapsed = time.monotonic() - started
    finally:
        fog.proc.send_signal(signal.SIGCONT)
    assert status == 200, body
    assert elapsed < FOG_TIMEOUT + 1.0
    assert body["partial"] is True and body["missing_regions"] == ["r2"]
    assert [i["region"] for i in body["items"]] == ["r1", "r1", "r1"]
    fog.stop()  # now the region is down for good
    started = time.monotonic()
    status, body = cloud(stack, "/api/v1/alerts", ops)
    assert status == 200 and body["missing_regions"] == ["r2"]
    assert time.monotonic() - started < FOG_TIMEOUT + 1.0
    status, body = cloud(stack, "/api/v1/customers/10002/latest-reading",
                         {"X-API-Key": str(stack.operator_key)})
    assert status == 503 and body["region"] == "r2"
