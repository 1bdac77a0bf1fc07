"""A customer's own routes: history by step with date/time and running total, latest
reading, alerts (fog API stand-in on real HTTP, the cloud's Redis real)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
import redis
from flask.testing import FlaskClient

from cloud import create_app
from cloud.directory import Customer, Directory
from nevoa_stack.services import RedisBinary, RedisContainer
from tests.integration.cloud_support import ContractFog, bearer

T0 = datetime.fromisoformat("2026-10-01T00:00:00-03:00").timestamp()  # local midnight


@pytest.fixture
def fog() -> Iterator[ContractFog]:
    with ContractFog("r1") as fog:
        # a reading every 30 minutes for two days, 1.5 kWh each, from register 100
        fog.add_readings("r1-e000001", "electricity",
                         [(T0 + i * 1800, 100 + 1.5 * i) for i in range(96)])
        yield fog


@pytest.fixture
def client(session_redis: RedisBinary | RedisContainer, redis_client: redis.Redis,
           fog: ContractFog) -> FlaskClient:
    Directory(redis_client).add_many([Customer("maria", "10001", "r1-e000001", "r1")])
    client = create_app({"REDIS_URL": session_redis.url, "SECRET_KEY": "s" * 32,
                         "FOG_URLS": {"r1": fog.url}}).test_client()
    token = client.post("/api/v1/auth/login",
                        json={"username": "maria", "registration": "10001"}).json["token"]
    client.environ_base["HTTP_AUTHORIZATION"] = bearer(token)["Authorization"]
    return client


def test_history_by_hour_has_iso_times_and_a_running_total(client: FlaskClient) -> None:
    r = client.get("/api/v1/customers/10001/history?step=hour"
                   "&from=2026-10-01T03:00:00Z&to=2026-10-01T04:00:00-03:00")
    assert r.status_code == 200, r.json
    body = r.json
    assert (body["step"], body["unit"], body["from"], body["to"]) == (
        "hour", "kWh", "2026-10-01T00:00:00-03:00", "2026-10-01T04:00:00-03:00")
    assert [p["time"] for p in body["points"]] == [  # local, with the offset
        f"2026-10-01T0{h}:00:00-03:00" for h in range(4)]
    assert [p["consumption"] for p in body["points"]] == ["1.500", "3.000", "3.000", "3.000"]
    assert [p["running_total"] for p in body["points"]] == ["1.500", "4.500", "7.500",
                                                            "10.500"]
    assert body["total"] == "10.500"
    assert r.headers["Cache-Control"] == "private, max-age=3600"  # a range that is over


def test_history_by_day_and_raw(client: FlaskClient) -> None:
    day = client.get(f"/api/v1/customers/10001/history?step=day&from={T0:.0f}"
                     f"&to={T0 + 2 * 86400:.0f}").json
    assert [p["time"] for p in day["points"]] == ["2026-10-01T00:00:00-03:00",
                                                  "2026-10-02T00:00:00-03:00"]
    assert day["total"] == "142.500"  # 95 intervals x 1.5
    raw = client.get("/api/v1/customers/10001/history?step=raw"
                     "&from=2026-10-01T00:00:00&to=2026-10-01T01:30:00").json  # local
    assert [(p["time"], p["consumption"], p["running_total"], p["register"])
            for p in raw["points"]] == [
        ("2026-10-01T00:00:00-03:00", "0.000", "0.000", "100.000"),
        ("2026-10-01T00:30:00-03:00", "1.500", "1.500", "101.500"),
        ("2026-10-01T01:00:00-03:00", "1.500", "3.000", "103.000")]


@pytest.mark.parametrize("query", ["step=minute", "from=yesterday", "from=2026-10-02&to=2026-10-01",
                                   "step=raw&from=2026-01-01&to=2026-10-01",
                                   "from=1999-01-01T00:00:00Z"])
def test_bad_history_ranges_are_400(client: FlaskClient, query: str) -> None:
    r = client.get(f"/api/v1/customers/10001/history?{query}")
    assert r.status_code == 400 and r.json["error"]


def test_latest_reading_and_alerts(client: FlaskClient, fog: ContractFog) -> None:
    r = client.get("/api/v1/customers/10001/latest-reading")
    assert r.json["reading"]["value"] == 100 + 1.5 * 95
    assert r.json["reading"]["time"] == "2026-10-02T23:30:00-03:00"
    fog.state.alerts["a1"] = {"id": "a1", "region": "r1", "meter": "r1-e000001", "type": "leak",
                              "state": "open", "opened_at": T0, "detail": {}}
    body = client.get("/api/v1/customers/10001/alerts").json
    assert [a["type"] for a in body["alerts"]] == ["leak"]
    assert body["supply"]["state"] == "supplied" and body["supply"]["valve"] == "open"
