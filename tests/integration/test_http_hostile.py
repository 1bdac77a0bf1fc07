"""Hostile HTTP input on the cloud and on the fog node (real Redis): deeply nested and
oversized bodies, numbers no JSON peer can hold, NaN, ids no route accepts. Each gets a
JSON 4xx that echoes little of the input, and changes nothing."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from cloud import create_app as create_cloud
from cloud.demo import demo_customers
from cloud.directory import Directory
from fog_node.alerts_store import AlertStore
from fog_node.api import FogServices
from fog_node.api import create_app as create_fog
from fog_node.audit import AuditTrail
from fog_node.commander import CommandCenter
from fog_node.policy_store import PolicyStore
from fog_node.store import RegionStore
from nevoa_adapters.cli import http_server
from nevoa_core.clock import FixedClock
from nevoa_stack.services import RedisBinary, RedisContainer
from tests.integration.cloud_support import ContractFog, api_key

NOW = 1_795_000_000.0  # 2026-11-19, a fixed instant: nothing here depends on the date
MAX_ECHO = 300  # an error message is short whatever the input was (README, "Limits")
NESTED = "[" * 100_000 + "]" * 100_000
NESTED_OBJECT = '{"a": ' * 40 + "1" + "}" * 40
HUGE_INT = "9" * 400


def strict_json(response: TestResponse) -> Any:
    """The body as JSON, refusing NaN and Infinity (which are not JSON)."""
    def refuse(name: str) -> None:
        raise AssertionError(f"the answer holds {name}, which is not JSON")

    return json.loads(response.get_data(as_text=True), parse_constant=refuse)


def assert_json_error(response: TestResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    body = strict_json(response)
    assert body["status"] == status and isinstance(body["error"], str) and body["error"]
    assert len(response.get_data()) < MAX_ECHO + 200, "the error echoes the input"
    assert len(body["error"]) <= MAX_ECHO
    return dict(body)


# --- the fog node ----------------------------------------------------------------------

@pytest.fixture
def fog(redis_client: redis.Redis, region: str) -> FogServices:
    clock = FixedClock(NOW)
    audit = AuditTrail(redis_client, region, clock)
    return FogServices(RegionStore(redis_client, region, None, clock=clock),
                       AlertStore(redis_client, region),
                       CommandCenter(redis_client, region, None, audit, clock=clock),
                       PolicyStore(redis_client, region, audit), audit, clock=clock)


@pytest.fixture
def fog_client(fog: FogServices) -> FlaskClient:
    return create_fog(fog).test_client()


def fog_unchanged(client: FlaskClient) -> None:
    assert client.get("/api/v1/policy").get_json()["rationing_cap"] is None
    assert client.get("/api/v1/audit").get_json()["entries"] == []


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(("method", "path", "data"), [
    ("PUT", "/api/v1/policy", NESTED),
    ("PUT", "/api/v1/policy", NESTED_OBJECT),
    ("PUT", "/api/v1/policy", '{"rationing_cap": ' + HUGE_INT + "}"),
    ("PUT", "/api/v1/policy", '{"rationing_cap": -' + HUGE_INT + "}"),
    ("PUT", "/api/v1/policy", '{"mean_factor": ' + HUGE_INT + "}"),
    ("PUT", "/api/v1/policy", '{"rationing_cap": NaN}'),
    ("PUT", "/api/v1/policy", '{"rationing_cap": Infinity}'),
    ("PUT", "/api/v1/policy", '{"rationing_cap": 1e400}'),
    ("PUT", "/api/v1/policy", '{"rationing_cap": 1e300}'),
    ("PUT", "/api/v1/policy", '{"mean_factor": 1e300}'),
    ("PUT", "/api/v1/policy", '{"' + "x" * 500_000 + '": 1}'),
    ("POST", "/api/v1/meters/w1/commands", NESTED),
    ("POST", "/api/v1/meters/w1/commands",
     '{"action": "set_interval", "args": {"seconds": ' + HUGE_INT + "}}"),
    ("POST", "/api/v1/meters/w1/commands",
     '{"action": "set_interval", "args": {"seconds": NaN}}'),
    ("POST", "/api/v1/meters/w1/commands", '{"action": "close_valve", "ttl": ' + HUGE_INT + "}"),
    ("POST", "/api/v1/meters/w1/commands", '{"action": "close_valve", "ttl": NaN}'),
    ("POST", "/api/v1/meters/w1/commands", '{"action": "' + "x" * 500_000 + '"}'),
    ("POST", "/api/v1/meters/w1/commands", '{"action": "close_valve", "by": "'
     + "x" * 500_000 + '"}'),
    ("POST", "/api/v1/alerts/a-1/ack", NESTED),
    ("POST", "/api/v1/alerts/" + "a" * 5000 + "/ack", '{"by": "ana"}'),
])
def test_the_fog_refuses_hostile_bodies_with_a_short_json_400(
        fog_client: FlaskClient, method: str, path: str, data: str) -> None:
    response = fog_client.open(path, method=method, data=data, headers=JSON)
    assert_json_error(response, 404 if "/alerts/aaa" in path else 400)
    fog_unchanged(fog_client)


def test_the_fog_refuses_a_body_over_its_limit_without_echoing_it(
        fog_client: FlaskClient) -> None:
    body = json.dumps({"rationing_cap": 1, "by": "x" * (2 * 1024 * 1024)})
    error = assert_json_error(fog_client.put("/api/v1/policy", data=body, headers=JSON), 413)
    assert "1048576" in error["error"]
    fog_unchanged(fog_client)


@pytest.mark.parametrize("query", ["from=1e300", "from=-5", "to=1e400", "from=nan",
                                   "to=" + HUGE_INT, "limit=" + HUGE_INT])
def test_the_fog_refuses_absurd_numbers_in_query_arguments(
        fog_client: FlaskClient, query: str) -> None:
    assert_json_error(fog_client.get(f"/api/v1/meters/w1/readings?{query}"), 400)


def test_a_command_never_answers_nan_even_if_one_was_stored(
        fog: FogServices, fog_client: FlaskClient) -> None:
    """Acks with NaN are refused at decoding (tests/unit/test_commands.py); one stored
    before that fix still reads back as valid JSON."""
    sent = fog_client.post("/api/v1/meters/w1/commands", json={"action": "close_valve"})
    command_id = sent.get_json()["id"]
    fog.store.redis.hset(fog.commands.keys.command(command_id),
                         mapping={"acknowledged_at": "nan", "state": "applied"})
    response = fog_client.get(f"/api/v1/commands/{command_id}")
    assert response.status_code == 200
    assert strict_json(response)["acknowledged_at"] is None


def test_the_fog_json_encoder_refuses_nan(fog: FogServices) -> None:
    app = create_fog(fog)
    with app.app_context(), pytest.raises(ValueError):
        app.json.dumps({"x": float("nan")})


# --- the cloud -------------------------------------------------------------------------

@pytest.fixture
def cloud(session_redis: RedisBinary | RedisContainer, redis_client: redis.Redis
          ) -> Iterator[Flask]:
    with ContractFog("r1") as r1, ContractFog("r2") as r2:
        Directory(redis_client).add_many(demo_customers(["r1", "r2"], 2))
        yield create_cloud({"REDIS_URL": session_redis.url, "SECRET_KEY": "s" * 32,
                            "FOG_URLS": {"r1": r1.url, "r2": r2.url}, "FOG_TIMEOUT": 1.0,
                            "CLOCK": FixedClock(NOW)})


@pytest.fixture
def operator(session_redis: RedisBinary | RedisContainer, cloud: Flask) -> dict[str, str]:
    return api_key(session_redis.url)


@pytest.mark.parametrize(("method", "path", "data"), [
    ("POST", "/api/v1/auth/login", NESTED),
    ("POST", "/api/v1/auth/login", NESTED_OBJECT),
    ("POST", "/api/v1/auth/login", '{"username": "maria", "registration": ' + HUGE_INT + "}"),
    ("POST", "/api/v1/auth/login", '{"username": "maria", "registration": NaN}'),
    ("POST", "/validacao-usuario", NESTED),
    ("POST", "/gerar-fatura", '{"matricula": ' + HUGE_INT + "}"),
    ("POST", "/api/v1/customers/validate", NESTED),
    ("PUT", "/api/v1/regions/r1/policy", NESTED),
    ("PUT", "/api/v1/regions/r1/policy", '{"rationing_cap": ' + HUGE_INT + "}"),
    ("PUT", "/api/v1/regions/r1/policy", '{"rationing_cap": 1e300}'),
    ("PUT", "/api/v1/regions/r1/policy", '{"mean_factor": Infinity}'),
    ("PUT", "/api/v1/regions/r1/policy", '{"' + "x" * 500_000 + '": 1}'),
    ("POST", "/api/v1/meters/r1-e000001/supply", NESTED),
    ("POST", "/api/v1/meters/r1-e000001/commands",
     '{"action": "set_interval", "args": {"seconds": ' + HUGE_INT + "}}"),
    ("PUT", "/api/v1/tariff-flags/2026-11", '{"flag": "' + "x" * 500_000 + '"}'),
    ("POST", "/api/v1/directory/import", NESTED),
    ("POST", "/api/v1/meters/" + "m" * 5000 + "/supply", '{"action": "cut"}'),
])
def test_the_cloud_refuses_hostile_bodies_with_a_short_json_400(
        cloud: Flask, operator: dict[str, str], method: str, path: str, data: str) -> None:
    client = cloud.test_client()
    response = client.open(path, method=method, data=data, headers={**JSON, **operator})
    assert_json_error(response, 400)
    assert client.get("/api/v1/regions/r1/policy", headers=operator).get_json()[
        "rationing_cap"] is None


def test_the_cloud_refuses_a_body_over_its_limit_but_an_import_may_be_larger(
        cloud: Flask, operator: dict[str, str]) -> None:
    client = cloud.test_client()
    big = json.dumps({"rationing_cap": 1, "padding": "x" * (2 * 1024 * 1024)})
    assert_json_error(client.put("/api/v1/regions/r1/policy", data=big,
                                 headers={**JSON, **operator}), 413)
    login = json.dumps({"username": "maria", "registration": "1" * (2 * 1024 * 1024)})
    assert_json_error(client.post("/api/v1/auth/login", data=login, headers=JSON), 413)
    rows = "registration,username,meter,region\n" + "".join(
        f"{90000 + i},user{i},r1-e{100000 + i:06d},r1\n" for i in range(50_000))
    assert len(rows) > 1024 * 1024
    report = client.post("/api/v1/directory/import", data=rows,
                         headers={"Content-Type": "text/csv", **operator})
    assert report.status_code == 200, report.get_data(as_text=True)[:300]
    assert report.get_json()["created"] == 50_000


@pytest.mark.parametrize("meter", ["a%20b", "a/b", "x" * 100, "%00"])
def test_an_invalid_meter_filter_is_400_before_any_region_is_asked(
        cloud: Flask, operator: dict[str, str], meter: str) -> None:
    response = cloud.test_client().get(f"/api/v1/alerts?meter={meter}", headers=operator)
    assert "meter" in assert_json_error(response, 400)["error"]


def test_the_cloud_json_encoder_refuses_nan(cloud: Flask) -> None:
    with cloud.app_context(), pytest.raises(ValueError):
        cloud.json.dumps({"x": float("nan")})


def test_the_fog_server_never_takes_a_40_mb_body(fog: FogServices) -> None:
    """Over real HTTP (waitress, as ``nevoa-fog`` serves): a body over 1 MiB is the app's
    JSON 413; a 40 MB one is refused by the server before it is read to the end."""
    server = http_server(create_fog(fog), "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for size, expected_json in ((2 * 1024 * 1024, True), (40 * 1024 * 1024, False)):
            conn = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=10)
            try:
                conn.putrequest("PUT", "/api/v1/policy")
                conn.putheader("Content-Type", "application/json")
                conn.putheader("Content-Length", str(size))
                conn.endheaders()
                try:
                    conn.send(b"[" + b" " * (size - 2) + b"]")
                except OSError:  # the server answered and closed before taking it all
                    pass
                response = conn.getresponse()
                data = response.read()
            finally:
                conn.close()
            assert response.status == 413 and len(data) < 500, data[:200]
            if expected_json:
                assert json.loads(data)["status"] == 413
    finally:
        server.close()
        thread.join(5)
    assert fog.policies.get().rationing_cap is None
