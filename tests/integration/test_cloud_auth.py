"""Login and authorisation on a real Redis: customers read only their own data,
operator routes refuse customers, viewers cannot act, every staff request is audited."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from cloud import create_app
from cloud.auth import Role
from cloud.demo import demo_customers
from cloud.directory import Directory
from nevoa_stack.services import RedisBinary, RedisContainer
from tests.integration.cloud_support import ContractFog, api_key, bearer

SECRET = "test-secret-0123456789abcdef"


@pytest.fixture
def app(session_redis: RedisBinary | RedisContainer, redis_client: redis.Redis
        ) -> Iterator[Flask]:
    with ContractFog("r1") as r1, ContractFog("r2") as r2:
        Directory(redis_client).add_many(demo_customers(["r1", "r2"], 3))
        yield create_app({"REDIS_URL": session_redis.url, "SECRET_KEY": SECRET,
                          "FOG_URLS": {"r1": r1.url, "r2": r2.url}, "FOG_TIMEOUT": 1.0})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def login(client: FlaskClient, username: str, registration: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"username": username,
                                                "registration": registration})
    assert r.status_code == 200, r.json
    assert r.headers["Cache-Control"] == "no-store"
    return bearer(r.json["token"])


def test_a_customer_reads_their_own_data_and_not_another_customers(client: FlaskClient) -> None:
    maria = login(client, "maria", "10001")
    r = client.get("/api/v1/customers/10001", headers=maria)
    assert r.status_code == 200 and r.json["meter"] == "r1-e000001"
    assert r.headers["Cache-Control"].startswith("private")
    for path in ("/api/v1/customers/10002", "/api/v1/customers/10002/invoices",
                 "/api/v1/customers/10002/invoices/2026-10",
                 "/api/v1/customers/10002/history", "/api/v1/customers/10002/alerts"):
        r = client.get(path, headers=maria)
        assert r.status_code == 403, path
        assert r.json["error"] == "a customer may read only their own data"
    r = client.post("/api/v1/customers/10002/invoices/2026-10/payment", headers=maria)
    assert r.status_code == 403


def test_login_refuses_a_wrong_pair_without_saying_which_half(client: FlaskClient) -> None:
    for username, registration in (("joao", "10001"), ("nobody", "10001"), ("maria", "999")):
        r = client.post("/api/v1/auth/login",
                        json={"username": username, "registration": registration})
        assert r.status_code == 401
        assert r.json["error"] == "unknown username and registration"
    r = client.post("/api/v1/auth/login", json={"username": "maria"})
    assert r.status_code == 400


def test_missing_expired_or_forged_tokens_are_401(app: Flask, client: FlaskClient) -> None:
    assert client.get("/api/v1/customers/10001").status_code == 401
    signer = app.extensions["nevoa.services"].tokens
    expired, _ = signer.issue("10001", now=0)
    token, _ = signer.issue("10001")
    forged = token.replace(".10001.", ".10002.")
    for bad in (expired, forged, "c1.x", "not-a-token"):
        r = client.get("/api/v1/customers/10001", headers=bearer(bad))
        assert r.status_code == 401, bad
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
    r = client.get("/api/v1/customers/10001", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401
    assert client.get("/api/v1/top", headers={"X-API-Key": "nvk_unknown"}).status_code == 401


def test_operator_routes_refuse_customers(client: FlaskClient) -> None:
    maria = login(client, "maria", "10001")
    for method, path in (("GET", "/api/v1/top"), ("GET", "/api/v1/alerts"),
                         ("GET", "/api/v1/regions/stats"), ("GET", "/api/v1/audit"),
                         ("PUT", "/api/v1/regions/r1/policy"),
                         ("POST", "/api/v1/meters/r1-e000001/supply"),
                         ("POST", "/api/v1/directory/import")):
        r = client.open(path, method=method, headers=maria, json={})
        assert r.status_code == 403, (method, path)


def test_a_viewer_reads_but_cannot_act(session_redis: RedisBinary | RedisContainer,
                                       client: FlaskClient) -> None:
    viewer = api_key(session_redis.url, Role.VIEWER, "vera")
    assert client.get("/api/v1/top", headers=viewer).status_code == 200
    assert client.get("/api/v1/customers/10002", headers=viewer).status_code == 200
    r = client.put("/api/v1/regions/r1/policy", headers=viewer, json={"rationing_cap": 10})
    assert r.status_code == 403 and "operator" in r.json["error"]
    assert client.get("/api/v1/audit", headers=viewer).status_code == 403


def test_staff_actions_and_reads_of_a_customer_are_audited_and_an_operator_reads_them(
        session_redis: RedisBinary | RedisContainer, client: FlaskClient) -> None:
    ops = api_key(session_redis.url, Role.OPERATOR, "ana-ops")
    viewer = api_key(session_redis.url, Role.VIEWER, "vera")
    client.put("/api/v1/regions/r1/policy", headers=ops, json={"rationing_cap": 12.5})
    client.put("/api/v1/regions/r1/policy", headers=viewer, json={"rationing_cap": 1})
    r = client.post("/api/v1/meters/r1-e000002/supply", headers=ops, json={"action": "cut"})
    assert r.status_code == 202
    command_id = r.json["command_id"]
    entries = client.get("/api/v1/audit?limit=10", headers=ops).json["entries"]
    cut, denied, policy = entries[0], entries[1], entries[2]
    assert (cut["actor"], cut["method"], cut["path"], cut["status"]) == (
        "ana-ops", "POST", "/api/v1/meters/r1-e000002/supply", 202)
    assert cut["detail"]["command_id"] == command_id
    assert (denied["actor"], denied["status"]) == ("vera", 403)
    assert policy["detail"]["changes"] == {"rationing_cap": 12.5}
    mine = client.get("/api/v1/audit?actor=vera&actions_only=true", headers=ops).json
    assert [e["actor"] for e in mine["entries"]] == ["vera"]
    client.get("/api/v1/top", headers=viewer)  # city-wide, not personal: not logged
    client.get("/api/v1/customers/10002/invoices", headers=viewer)  # one customer's data
    newest = client.get("/api/v1/audit?limit=1", headers=ops).json["entries"][0]
    assert (newest["actor"], newest["path"]) == ("vera", "/api/v1/customers/10002/invoices")


def test_the_seed_routes_need_no_token(client: FlaskClient) -> None:
    r = client.post("/validacao-usuario", json={"username": "maria", "matricula": "10001"})
    assert r.status_code == 200 and r.json["valido"] is True


def test_whoami(client: FlaskClient, session_redis: RedisBinary | RedisContainer) -> None:
    maria = login(client, "maria", "10001")
    assert client.get("/api/v1/auth/whoami", headers=maria).json == {
        "role": "customer", "name": "10001", "registration": "10001"}
    ops = api_key(session_redis.url)
    assert client.get("/api/v1/auth/whoami", headers=ops).json["role"] == "operator"


def test_a_viewer_cannot_pay_an_invoice_and_the_refusal_is_audited(
        session_redis: RedisBinary | RedisContainer, client: FlaskClient) -> None:
    """Paying restores a supply cut for debt: the customer or an operator may, a viewer
    (who reads only) may not."""
    viewer = api_key(session_redis.url, Role.VIEWER, "vera")
    ops = api_key(session_redis.url, Role.OPERATOR, "ana-ops")
    r = client.post("/api/v1/customers/10002/invoices/2026-10/payment", headers=viewer)
    assert r.status_code == 403 and "operator" in r.json["error"]
    assert client.get("/api/v1/customers/10002/invoices/2026-10", headers=viewer
                      ).status_code != 403  # a viewer still reads it
    # an operator (and the customer) get past the check: this invoice was never issued
    r = client.post("/api/v1/customers/10002/invoices/2026-10/payment", headers=ops)
    assert r.status_code == 404
    joao = login(client, "joao", "10002")
    r = client.post("/api/v1/customers/10002/invoices/2026-10/payment", headers=joao)
    assert r.status_code == 404
    entries = client.get("/api/v1/audit?limit=10&actions_only=true", headers=ops).json[
        "entries"]
    refused = next(e for e in entries if e["actor"] == "vera" and e["method"] == "POST")
    assert (refused["role"], refused["status"], refused["remote"]) == ("viewer", 403,
                                                                      "127.0.0.1")
    assert refused["path"] == "/api/v1/customers/10002/invoices/2026-10/payment"
    assert refused["at"] > 0
    paid = next(e for e in entries if e["actor"] == "ana-ops" and e["method"] == "POST")
    assert (paid["role"], paid["status"], paid["remote"]) == ("operator", 404, "127.0.0.1")


def test_a_viewer_acts_nowhere(session_redis: RedisBinary | RedisContainer,
                               client: FlaskClient) -> None:
    viewer = api_key(session_redis.url, Role.VIEWER, "vera")
    for method, path, body in (
            ("POST", "/api/v1/customers/10001/invoices/2026-10/payment", None),
            ("POST", "/api/v1/meters/r1-e000001/supply", {"action": "cut"}),
            ("POST", "/api/v1/meters/r1-e000001/commands",
             {"action": "set_interval", "args": {"seconds": 30}}),
            ("POST", "/api/v1/regions/r1/alerts/a-1/ack", None),
            ("PUT", "/api/v1/tariff-flags/2026-11", {"flag": "red1"}),
            ("POST", "/api/v1/billing/overdue-cuts", None),
            ("POST", "/api/v1/directory/import", None)):
        r = client.open(path, method=method, headers=viewer, json=body)
        assert r.status_code == 403, (method, path, r.json)


# --- failed logins are rate-limited (README.md, "Limits") ------------------------------

@pytest.fixture
def strict_app(session_redis: RedisBinary | RedisContainer, redis_client: redis.Redis
               ) -> Iterator[Flask]:
    """Small limits: 3 failed attempts a minute per username, 5 per client address."""
    with ContractFog("r1") as r1, ContractFog("r2") as r2:
        Directory(redis_client).add_many(demo_customers(["r1", "r2"], 3))
        yield create_app({"REDIS_URL": session_redis.url, "SECRET_KEY": SECRET,
                          "FOG_URLS": {"r1": r1.url, "r2": r2.url}, "FOG_TIMEOUT": 1.0,
                          "LOGIN_RATE_LIMIT": "3/minute", "LOGIN_RATE_LIMIT_PER_IP": "5/minute"})


def attempt(client: FlaskClient, username: str, registration: str,
            address: str = "127.0.0.1", path: str = "/api/v1/auth/login") -> TestResponse:
    key = "matricula" if path == "/validacao-usuario" else "registration"
    return client.post(path, json={"username": username, key: registration},
                       environ_base={"REMOTE_ADDR": address})


def assert_too_many(r: TestResponse) -> None:
    assert r.status_code == 429, r.json
    assert r.json == {"error": "too many failed attempts; try again later", "status": 429,
                      "retry_after": int(r.headers["Retry-After"])}
    assert 1 <= int(r.headers["Retry-After"]) <= 60


def test_a_flood_of_wrong_registrations_is_stopped_after_ten(client: FlaskClient) -> None:
    """The default: 10 failed attempts a minute per username (before: 2,000 in 2.7 s)."""
    statuses = [attempt(client, "maria", str(20000 + i)).status_code for i in range(40)]
    assert statuses == [401] * 10 + [429] * 30
    assert_too_many(attempt(client, "maria", "10001"))  # locked out: even the right one


def test_a_username_is_locked_out_from_any_address_and_others_are_not(
        strict_app: Flask) -> None:
    client = strict_app.test_client()
    for guess in ("1", "2", "3"):
        assert attempt(client, "maria", guess, "10.0.0.1").status_code == 401
    assert_too_many(attempt(client, "maria", "10001", "10.0.0.1"))
    assert_too_many(attempt(client, "maria", "10001", "10.0.0.2"))
    assert attempt(client, "joao", "10002", "10.0.0.2").status_code == 200
    # a username nobody has answers the same: the answer never says who exists
    for guess in ("1", "2", "3"):
        assert attempt(client, "nobody", guess, "10.0.0.3").json == {
            "error": "unknown username and registration", "status": 401}
    assert_too_many(attempt(client, "nobody", "4", "10.0.0.3"))


def test_an_address_is_limited_across_usernames(strict_app: Flask) -> None:
    client = strict_app.test_client()
    for i in range(5):
        assert attempt(client, f"guess{i}", "10001", "10.0.0.9").status_code == 401
    assert_too_many(attempt(client, "maria", "10001", "10.0.0.9"))
    assert attempt(client, "maria", "10001", "10.0.0.8").status_code == 200


def test_successful_logins_cost_nothing(strict_app: Flask) -> None:
    client = strict_app.test_client()
    for _ in range(10):
        assert attempt(client, "maria", "10001").status_code == 200


def test_the_routes_that_check_a_registration_share_the_count(strict_app: Flask) -> None:
    client = strict_app.test_client()
    assert attempt(client, "maria", "1").status_code == 401
    assert attempt(client, "maria", "2", path="/validacao-usuario").status_code == 404
    assert attempt(client, "maria", "3", path="/api/v1/customers/validate").status_code == 404
    for path in ("/api/v1/auth/login", "/validacao-usuario", "/api/v1/customers/validate"):
        assert_too_many(attempt(client, "maria", "10001", path=path))
    assert attempt(client, "joao", "10002", path="/validacao-usuario").status_code == 200


def test_a_bad_rate_limit_setting_is_refused(session_redis: RedisBinary | RedisContainer
                                             ) -> None:
    with pytest.raises(ValueError, match="LOGIN_RATE_LIMIT"):
        create_app({"REDIS_URL": session_redis.url, "SECRET_KEY": SECRET,
                    "LOGIN_RATE_LIMIT": "often"})
