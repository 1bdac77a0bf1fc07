"""The fog HTTP API (README.md, "Fog node HTTP API") on a real Redis: shapes, and JSON errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import redis
from flask.testing import FlaskClient

from fog_node.alerts_store import AlertStore
from fog_node.api import FogServices, create_app
from fog_node.audit import AuditTrail
from fog_node.commander import CommandCenter
from fog_node.policy_store import PolicyStore
from fog_node.store import IngestBatch, RegionStore
from nevoa_core.alerts import AlertType
from nevoa_core.clock import FixedClock
from nevoa_core.commands import CommandAck, Outcome
from nevoa_core.kinds import Kind
from nevoa_core.periods import Step
from nevoa_core.senml import Reading
from tests.instants import Instant


@pytest.fixture
def now(instant: Instant) -> float:
    """The fog's clock, pinned at each instant of tests/instants.py (readings: the 10
    minutes before it, all on the same local day)."""
    return instant.epoch


@pytest.fixture
def day(instant: Instant, now: float) -> str:
    return instant.calendar.period_containing(Step.DAY, now).label


@pytest.fixture
def fog(redis_client: redis.Redis, region: str, instant: Instant, now: float) -> FogServices:
    clock, calendar = FixedClock(now), instant.calendar
    audit = AuditTrail(redis_client, region, clock)
    services = FogServices(RegionStore(redis_client, region, None, calendar, clock),
                           AlertStore(redis_client, region),
                           CommandCenter(redis_client, region, None, audit, clock=clock),
                           PolicyStore(redis_client, region, audit), audit,
                           calendar=calendar, clock=clock)
    readings = [Reading("w1", s, now - 600 + 60 * s, Kind.WATER, 10.0 + s / 2, 0.001)
                for s in range(1, 6)]
    readings += [Reading("w2", s, now - 600 + 60 * s, Kind.WATER, 5.0 + s, None)
                 for s in range(1, 4)]
    readings += [Reading("e1", 1, now - 60, Kind.ELECTRICITY, 7.0, 300.0)]
    services.store.record(IngestBatch(readings=readings, statuses=[("w1", "online", now)]))
    return services


@pytest.fixture
def client(fog: FogServices) -> Iterator[FlaskClient]:
    yield create_app(fog).test_client()


def test_health_and_metrics(client: FlaskClient, fog: FogServices) -> None:
    body = client.get("/health").get_json()
    assert body == {"status": "ok", "region": fog.region, "mqtt": "connected", "redis": "ok"}
    text = client.get("/metrics").get_data(as_text=True)
    assert f'nevoa_region_readings_stored_total{{region="{fog.region}"}} 9' in text
    assert "nevoa_fog_batch_readings_bucket" in text and "nevoa_fog_ingest_rate" in text


def test_latest_readings_rollups_flags(client: FlaskClient, now: float) -> None:
    latest = client.get("/api/v1/meters/w1/latest").get_json()
    assert latest["reading"] == {"meter": "w1", "seq": 5, "time": now - 300, "kind": "water",
                                 "register": 12.5, "unit": "m3", "rate": 0.001,
                                 "rate_unit": "m3/s"}
    assert latest["status"] == "online" and latest["valve"] is None
    assert latest["flags"]["tamper"] is False
    history = client.get("/api/v1/meters/w1/readings?limit=3").get_json()
    assert [r["seq"] for r in history["readings"]] == [3, 4, 5]
    between = client.get(f"/api/v1/meters/w1/readings?from={now - 480}&to={now - 300}")
    assert [r["seq"] for r in between.get_json()["readings"]] == [2, 3, 4]
    rollups = client.get(f"/api/v1/meters/w2/rollups?step=day&from={now - 86_400}&to={now}")
    points = rollups.get_json()["points"]
    assert sum(p["consumption"] for p in points) == 2.0 and points[-1]["register"] == 8.0
    flags = client.get("/api/v1/meters/w2/flags").get_json()
    assert flags["meter"] == "w2" and flags["gap"] is False and flags["details"] == []


def test_region_stats_and_top(client: FlaskClient, fog: FogServices, day: str) -> None:
    stats = client.get(f"/api/v1/region/stats?period=day:{day}&kind=water").get_json()
    assert stats["period"] == f"day:{day}" and stats["kind"] == "water"
    assert (stats["meters"], stats["total"], stats["mean"], stats["median"]) == (2, 4.0, 2.0, 2.0)
    assert (stats["online"], stats["offline"], stats["meters_in_region"]) == (1, 0, 3)
    assert stats["kinds"]["electricity"]["meters"] == 1
    top = client.get(f"/api/v1/top?period=day:{day}&n=1&kind=water").get_json()
    assert top["items"] == [{"meter": "w1", "consumption": 2.0}] or \
        top["items"] == [{"meter": "w2", "consumption": 2.0}]
    assert top["items"][0]["meter"] == "w1"  # a tie: meter id ascending


def test_alerts_list_acknowledge_clear(client: FlaskClient, fog: FogServices, now: float) -> None:
    alert, _ = fog.alerts.open("w1", AlertType.LEAK, {"hours": 7}, now)
    listed = client.get("/api/v1/alerts?state=open").get_json()["alerts"]
    assert [a["id"] for a in listed] == [alert.id] and listed[0]["detail"] == {"hours": 7}
    acked = client.post(f"/api/v1/alerts/{alert.id}/ack", json={"by": "ana"}).get_json()
    assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == "ana"
    assert client.get("/api/v1/alerts?state=open").get_json()["alerts"] == []
    cleared = client.post(f"/api/v1/alerts/{alert.id}/clear", json={"by": "ana"}).get_json()
    assert cleared["state"] == "cleared"
    again = client.post(f"/api/v1/alerts/{alert.id}/ack", json={"by": "ana"})
    assert again.status_code == 409 and "cleared" in again.get_json()["error"]
    assert client.get("/api/v1/alerts?type=leak&meter=w1").get_json()["alerts"][0]["id"] == alert.id


def test_policy_and_commands_and_audit(client: FlaskClient) -> None:
    assert client.get("/api/v1/policy").get_json()["rationing_cap"] is None
    policy = client.put("/api/v1/policy", json={"rationing_cap": 2.5, "cut_above_cap": True,
                                                "by": "ops"}).get_json()
    assert policy["rationing_cap"] == 2.5 and policy["cap_period"] == "day"
    sent = client.post("/api/v1/meters/w1/commands",
                       json={"action": "close_valve", "ttl": 60, "reason": "debt", "by": "billing"})
    assert sent.status_code == 202
    command = sent.get_json()
    assert command["state"] == "pending" and command["reason"] == "debt"
    assert client.get(f"/api/v1/commands/{command['id']}").get_json()["id"] == command["id"]
    events = [e["event"] for e in client.get("/api/v1/audit?limit=5").get_json()["entries"]]
    assert events == ["command_issued", "policy_changed"]


DEEP: list[object] = []
for _ in range(40):
    DEEP = [DEEP]


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("GET", "/api/v1/meters/nobody/latest", None, 404),
    ("GET", "/api/v1/meters/bad:id/latest", None, 400),
    ("GET", "/api/v1/meters/w1/readings?limit=0", None, 400),
    ("GET", "/api/v1/meters/w1/readings?limit=x", None, 400),
    ("GET", "/api/v1/meters/w1/readings?from=abc", None, 400),
    ("GET", "/api/v1/meters/w1/rollups?step=week", None, 400),
    ("GET", "/api/v1/meters/w1/rollups?step=hour&from=0&to=99999999", None, 400),
    ("GET", "/api/v1/meters/nobody/rollups", None, 404),
    ("GET", "/api/v1/region/stats?period=day:2026-13-01", None, 400),
    ("GET", "/api/v1/region/stats?period=hour:2026-11-20T13", None, 400),
    ("GET", "/api/v1/top?kind=gas", None, 400),
    ("GET", "/api/v1/top", None, 400),
    ("GET", "/api/v1/region/stats", None, 400),
    ("GET", "/api/v1/top?n=100000", None, 400),
    ("GET", "/api/v1/alerts?state=maybe", None, 400),
    ("POST", "/api/v1/alerts/a-nothing/ack", {"by": "x"}, 404),
    ("POST", "/api/v1/alerts/a-nothing/ack", {}, 400),
    ("PUT", "/api/v1/policy", {"rationing_cap": -1}, 400),
    ("PUT", "/api/v1/policy", [1, 2], 400),
    ("POST", "/api/v1/meters/w1/commands", {"action": "explode"}, 400),
    ("POST", "/api/v1/meters/w1/commands", {"action": "set_interval", "args": {}}, 400),
    ("POST", "/api/v1/meters/w1/commands", {"action": "close_valve", "ttl": 0}, 400),
    ("POST", "/api/v1/meters/w1/commands", {"action": "close_valve", "reason": "x"}, 400),
    ("GET", "/api/v1/commands/c-nothing", None, 404),
    ("DELETE", "/api/v1/policy", None, 405),
    # hostile values (more in tests/integration/test_http_hostile.py): before, a 500
    ("PUT", "/api/v1/policy", {"rationing_cap": 10**400}, 400),
    ("PUT", "/api/v1/policy", {"mean_factor": 10**400}, 400),
    ("PUT", "/api/v1/policy", {"rationing_cap": 1e300}, 400),
    ("PUT", "/api/v1/policy", {"rationing_cap": DEEP}, 400),
    ("POST", "/api/v1/meters/w1/commands",
     {"action": "set_interval", "args": {"seconds": 10**400}}, 400),
    ("POST", "/api/v1/meters/w1/commands", {"action": "close_valve", "args": DEEP}, 400),
    ("GET", "/api/v1/meters/w1/readings?from=1e300", None, 400),
])
def test_bad_requests_get_a_json_error_and_change_nothing(
        client: FlaskClient, method: str, path: str, body: object, status: int) -> None:
    before = client.get("/api/v1/policy").get_json()
    response = client.open(path, method=method, json=body)
    assert response.status_code == status
    error = response.get_json()
    assert error["status"] == status and error["error"]
    assert client.get("/api/v1/policy").get_json() == before
    assert client.get("/api/v1/audit").get_json()["entries"] == []


@pytest.mark.parametrize("path", ["/api/v1/top", "/api/v1/region/stats?period=day:2026-11-20",
                                  "/api/v1/top?kind=gas"])
def test_region_aggregates_need_a_kind_and_the_error_names_the_allowed_ones(
        client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert "kind" in error and "electricity" in error and "water" in error


def test_acks_a_meter_can_repeat_cost_a_counter_not_the_audit_trail(
        fog: FogServices, client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    """Unknown-command acks are counted (``rejected.unknown_command_ack``) and reported
    once per interval; a late ack is audited once per command, however often it comes."""
    command_id = client.post("/api/v1/meters/w1/commands",
                             json={"action": "close_valve"}).get_json()["id"]
    applied = CommandAck(command_id, Outcome.APPLIED, fog.clock.now(), "closed", "closed")
    fog.commands.on_acks([("w1", applied)])
    caplog.set_level(logging.WARNING, "nevoa.fog.commands")
    for _ in range(5):
        fog.commands.on_acks([("w1", CommandAck(f"c-{i:016x}", Outcome.APPLIED,
                                                fog.clock.now())) for i in range(1000)]
                             + [("w2", applied)] + [("w1", applied)] * 10)
    assert client.get("/api/v1/stats").get_json()["rejected"] == {"unknown_command_ack": 5005}
    events = [e["event"] for e in client.get("/api/v1/audit").get_json()["entries"]]
    assert events == ["ack_ignored", "late_ack", "command_acknowledged", "command_issued"]
    ignored = client.get("/api/v1/audit?limit=1").get_json()["entries"][0]
    assert ignored["count"] == "1001" and "w1 (1000)" in ignored["meters"]
    assert len([r for r in caplog.records if r.name == "nevoa.fog.commands"]) == 1
    assert client.get(f"/api/v1/commands/{command_id}").get_json()["state"] == "applied"
