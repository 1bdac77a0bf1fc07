"""The utility's city-wide routes over two regions' fog APIs (contract stand-ins on real
HTTP; the cloud's Redis is real): exact top-N, means, alerts, policies, supply control,
and a partial answer within the timeout when a region does not answer."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis
from flask.testing import FlaskClient

from cloud import create_app
from cloud.demo import demo_customers
from cloud.directory import Directory
from nevoa_stack.services import RedisBinary, RedisContainer
from tests.integration.cloud_support import ContractFog, SilentFog, api_key

DAY = datetime(2026, 10, 15, tzinfo=UTC).timestamp()
PERIOD = "day:2026-10-15"
TIMEOUT = 0.5


def fill(fog: ContractFog, meters: int, rng: random.Random) -> dict[str, float]:
    """Random day of readings for ``meters`` meters; returns each one's consumption."""
    used = {}
    for i in range(1, meters + 1):
        meter = f"{fog.state.region}-e{i:06d}"
        register, points = rng.uniform(0, 1000), []
        for hour in range(0, 24, 3):
            points.append((DAY + hour * 3600, round(register, 3)))
            register += rng.choice([0, 1, 2, 2.5, 5, rng.uniform(0, 9)])
        fog.add_readings(meter, "electricity", points)
        used[meter] = fog.state.consumption(meter, DAY, DAY + 86400) or 0.0
    return used


@pytest.fixture
def fogs() -> Iterator[tuple[ContractFog, ContractFog]]:
    with ContractFog("r1") as r1, ContractFog("r2") as r2:
        yield r1, r2


def make_client(redis_url: str, urls: dict[str, str]) -> FlaskClient:
    app = create_app({"REDIS_URL": redis_url, "SECRET_KEY": "s" * 32, "FOG_URLS": urls,
                      "FOG_TIMEOUT": TIMEOUT})
    client = app.test_client()
    client.environ_base["HTTP_X_API_KEY"] = api_key(redis_url)["X-API-Key"]
    return client


@pytest.fixture
def client(session_redis: RedisBinary | RedisContainer, redis_client: redis.Redis,
           fogs: tuple[ContractFog, ContractFog]) -> FlaskClient:
    Directory(redis_client).add_many(demo_customers(["r1", "r2"], 60))
    return make_client(session_redis.url, {f.state.region: f.url for f in fogs})


def test_global_top_n_across_two_regions_is_exact(client: FlaskClient,
                                                  fogs: tuple[ContractFog, ContractFog]) -> None:
    rng = random.Random(5)
    used = {**fill(fogs[0], 60, rng), **fill(fogs[1], 45, rng)}
    for n in (1, 7, 30, 200):
        r = client.get(f"/api/v1/top?period={PERIOD}&n={n}")
        assert r.status_code == 200, r.json
        expected = sorted(used.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
        assert [(i["meter"], i["consumption"]) for i in r.json["items"]] == expected
        assert r.json["partial"] is False and r.json["missing_regions"] == []
        assert r.json["regions"] == ["r1", "r2"]
    first = r.json["items"][0]
    assert first["rank"] == 1 and first["registration"] is not None
    assert r.headers["Cache-Control"] == "private, max-age=300"  # a closed day
    only_r2 = client.get(f"/api/v1/top?period={PERIOD}&n=5&region=r2").json
    assert {i["region"] for i in only_r2["items"]} == {"r2"}
    assert client.get(f"/api/v1/top?period={PERIOD}&kind=water").json["items"] == []
    assert client.get("/api/v1/top?region=r9").status_code == 404
    for bad in ("period=week:1", "n=0", "n=x", "kind=gas"):
        assert client.get(f"/api/v1/top?{bad}").status_code == 400, bad


def test_regional_means_and_the_city_mean(client: FlaskClient,
                                          fogs: tuple[ContractFog, ContractFog]) -> None:
    rng = random.Random(9)
    used = {**fill(fogs[0], 10, rng), **fill(fogs[1], 30, rng)}
    body = client.get(f"/api/v1/regions/stats?period={PERIOD}").json
    assert [r["region"] for r in body["regions"]] == ["r1", "r2"]
    assert body["city"]["meters"] == 40
    assert body["city"]["mean"] == pytest.approx(sum(used.values()) / 40, abs=1e-3)


@pytest.mark.parametrize("failure", ["stopped", "hanging"])
def test_a_region_that_does_not_answer_gives_a_partial_answer_within_the_timeout(
        session_redis: RedisBinary | RedisContainer, redis_client: redis.Redis,
        failure: str) -> None:
    with ContractFog("r1") as r1, SilentFog() as silent:
        fill(r1, 5, random.Random(1))
        down = silent.url if failure == "hanging" else "http://127.0.0.1:9"  # nothing listens
        client = make_client(session_redis.url, {"r1": r1.url, "r2": down})
        for path in (f"/api/v1/top?period={PERIOD}", f"/api/v1/regions/stats?period={PERIOD}",
                     "/api/v1/alerts", "/api/v1/regions"):
            started = time.monotonic()
            r = client.get(path)
            elapsed = time.monotonic() - started
            assert r.status_code == 200, r.json
            assert elapsed < TIMEOUT + 0.4, f"{path} took {elapsed:.2f}s"
            assert r.json["partial"] is True and r.json["missing_regions"] == ["r2"]
            assert r.json["region_errors"]["r2"]
            assert r.headers["Cache-Control"] == "no-store"
        assert len(client.get(f"/api/v1/top?period={PERIOD}").json["items"]) == 5


def test_alerts_across_regions_filter_and_acknowledge(client: FlaskClient,
                                                      fogs: tuple[ContractFog, ContractFog]
                                                      ) -> None:
    for fog, opened in ((fogs[0], 10.0), (fogs[1], 20.0)):
        region = fog.state.region
        fog.state.alerts[f"a-{region}"] = {
            "id": f"a-{region}", "region": region, "meter": f"{region}-e000001",
            "type": "leak" if region == "r1" else "excess", "state": "open",
            "opened_at": opened, "detail": {}}
    body = client.get("/api/v1/alerts").json
    assert [a["id"] for a in body["alerts"]] == ["a-r2", "a-r1"]  # newest first
    assert [a["id"] for a in client.get("/api/v1/alerts?type=leak").json["alerts"]] == ["a-r1"]
    r = client.post("/api/v1/regions/r1/alerts/a-r1/ack")
    assert r.status_code == 200 and r.json["acknowledged_by"] == "ana-ops"
    assert [a["id"] for a in client.get("/api/v1/alerts").json["alerts"]] == ["a-r2"]
    assert client.post("/api/v1/regions/r1/alerts/nope/ack").status_code == 404
    r = client.post("/api/v1/regions/r2/alerts/a-r2/clear")
    assert r.status_code == 200 and r.json["cleared_by"] == "ana-ops"
    assert client.get("/api/v1/alerts").json["alerts"] == []


def test_rationing_cap_and_policies(client: FlaskClient,
                                    fogs: tuple[ContractFog, ContractFog]) -> None:
    r = client.put("/api/v1/regions/r2/policy",
                   json={"rationing_cap": 15, "cap_period": "month", "cut_above_cap": True})
    assert r.status_code == 200 and r.json["rationing_cap"] == 15
    assert fogs[1].state.policy["by"] == "ana-ops"
    assert client.get("/api/v1/regions/r2/policy").json["cap_period"] == "month"
    for bad in ({"rationing_cap": -1}, {"cap_period": "week"}, {"cut_above_cap": "yes"},
                {"colour": "red"}, {}):
        assert client.put("/api/v1/regions/r2/policy", json=bad).status_code == 400, bad
    assert client.get("/api/v1/regions/r9/policy").status_code == 404


def test_cut_and_restore_return_a_command_whose_status_is_readable(client: FlaskClient,
                                                                   fogs: tuple[ContractFog,
                                                                               ContractFog]
                                                                   ) -> None:
    r = client.post("/api/v1/meters/r2-e000003/supply", json={"action": "cut"})
    assert r.status_code == 202
    command_id = r.json["command_id"]
    assert fogs[1].state.commands[command_id]["action"] == "close_valve"
    state = client.get("/api/v1/meters/r2-e000003/supply").json
    assert (state["state"], state["reason"], state["command_id"]) == ("cut", "manual", command_id)
    status = client.get(r.json["status_url"]).json
    assert (status["state"], status["region"], status["meter"]) == ("pending", "r2", "r2-e000003")
    fogs[1].state.commands[command_id]["state"] = "applied"
    assert client.get(f"/api/v1/commands/{command_id}").json["state"] == "applied"
    r = client.post("/api/v1/meters/r2-e000003/supply", json={"action": "restore"})
    assert fogs[1].state.commands[r.json["command_id"]]["action"] == "open_valve"
    assert client.get("/api/v1/meters/r2-e000003/supply").json["state"] == "supplied"
    assert client.get("/api/v1/commands/c-unknown").status_code == 404
    assert client.post("/api/v1/meters/r9-e000001/supply",
                       json={"action": "cut"}).status_code == 404
    assert client.post("/api/v1/meters/r2-e000003/supply",
                       json={"action": "explode"}).status_code == 400


def test_a_ranking_is_reused_briefly_unless_the_caller_asks_for_a_fresh_one(
        client: FlaskClient, fogs: tuple[ContractFog, ContractFog]) -> None:
    fill(fogs[0], 3, random.Random(2))
    first = client.get(f"/api/v1/top?period={PERIOD}&n=3")
    assert "Age" not in first.headers
    fogs[0].add_readings("r1-e000001", "electricity", [(DAY + 86000, 1e6)])  # a late backlog
    again = client.get(f"/api/v1/top?period={PERIOD}&n=3")
    assert again.json["items"] == first.json["items"] and "Age" in again.headers
    fresh = client.get(f"/api/v1/top?period={PERIOD}&n=3", headers={"Cache-Control": "no-cache"})
    assert fresh.json["items"][0]["meter"] == "r1-e000001" and "Age" not in fresh.headers
    assert client.get(f"/api/v1/top?period={PERIOD}&n=3").json == fresh.json


def test_a_meters_reporting_interval_and_tendency_can_be_changed(
        client: FlaskClient, fogs: tuple[ContractFog, ContractFog]) -> None:
    r = client.post("/api/v1/meters/r1-e000002/commands",
                    json={"action": "set_interval", "args": {"seconds": 30}})
    assert r.status_code == 202, r.json
    sent = fogs[0].state.commands[r.json["command_id"]]
    assert (sent["action"], sent["args"]) == ("set_interval", {"seconds": 30})
    for bad in ({"action": "set_interval", "args": {"seconds": -1}},
                {"action": "set_tendency", "args": {"tendency": "wild"}},
                {"action": "close_valve"}, {"action": "explode"}, {"args": {}}):
        assert client.post("/api/v1/meters/r1-e000002/commands", json=bad).status_code == 400
