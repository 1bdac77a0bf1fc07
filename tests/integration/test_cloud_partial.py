"""A region that hangs or stops: the cloud answers with what the others said, within its
timeout, and names the missing region (not date-sensitive: the system clock)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest

from nevoa_core import topics
from nevoa_core.calendar import Calendar
from nevoa_core.kinds import Kind
from nevoa_core.periods import Step
from nevoa_core.senml import Reading, encode_pack
from nevoa_stack.stack import LocalStack
from tests.support import http, publish_qos1, two_region_stack, wait_until

FOG_TIMEOUT = 2.0  # the cloud's default


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with two_region_stack(tmp_path_factory.mktemp("stack"), demo_meters_per_region=4) as s:
        yield s


def cloud(stack: LocalStack, path: str, headers: dict[str, str] | None = None
          ) -> tuple[int, dict[str, object]]:
    return http("GET", stack.cloud_url + path, headers=headers)


def publish_yesterday(stack: LocalStack, meter: str, used: float) -> None:
    region = meter.split("-")[0]
    rp = stack.region_processes[region]
    t0 = YESTERDAY.start_epoch + 3600
    publish_qos1(rp.broker.host, rp.broker.port, [
        (topics.reading(region, meter), encode_pack(meter, [r])) for r in (
            Reading(meter, 1, t0, Kind.ELECTRICITY, 10.0),
            Reading(meter, 2, t0 + 600, Kind.ELECTRICITY, 10.0 + used))],
        client_id=f"test-{meter}")


YESTERDAY = Calendar().period_containing(Step.DAY, time.time()).previous()


def test_a_region_that_hangs_or_stops_gives_a_partial_answer_within_the_timeout(
        stack: LocalStack) -> None:
    ops = {"X-API-Key": str(stack.operator_key), "Cache-Control": "no-cache"}
    for meter, used in (("r1-e000002", 1.0), ("r1-e000003", 2.0), ("r1-e000004", 3.0),
                        ("r2-e000002", 4.0)):
        publish_yesterday(stack, meter, used)

    def ranked() -> int:
        status, body = cloud(stack, f"/api/v1/top?period={YESTERDAY.name}&n=10", ops)
        return len(body["items"]) if status == 200 else 0  # type: ignore[arg-type]

    wait_until(lambda: ranked() == 4, what="the four meters ranked")
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
