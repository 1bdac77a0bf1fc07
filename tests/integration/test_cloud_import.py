"""Bulk import of the simulator's export into the directory on a real Redis: idempotent,
with a report of the rows rejected and why; each meter routed to its region."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis
from flask.testing import FlaskClient

from cloud import create_app
from cloud.directory import Directory
from nevoa_stack.services import RedisBinary, RedisContainer
from tests.integration.cloud_support import ContractFog, api_key

CSV = """registration,username,meter,region,kind,tariff
10001,maria,r1-e000001,r1,electricity,
10002,joao,r2-e000001,r2,,
2000501,customer-r2-w000501,r2-w000501,r2,water,
1000002,customer-r1-e000002,r1-e000002,r1,,seed-flat
"""
BAD = """registration,username,meter,region,kind,tariff
1000003,bia,r1-e000003,r9,,
abc,carla,r1-e000004,r1,,
1000005,maria,r1-e000005,r1,,
1000006,dani,r1-e000001,r1,,
1000007,edu,r1-e000007,r1,gas,
1000008,,r1-e000008,r1,,
1000009,fabi,r1-e000009,r1,,water-residential
1000010,gil,meter-without-kind,r1,,
1000011,hugo,r1-e000011,r1,,
1000011,hugo2,r1-e000012,r1,,
"""


@pytest.fixture
def client(session_redis: RedisBinary | RedisContainer, redis_client: redis.Redis
           ) -> Iterator[FlaskClient]:
    with ContractFog("r1") as r1, ContractFog("r2") as r2:
        app = create_app({"REDIS_URL": session_redis.url, "SECRET_KEY": "s" * 32,
                          "FOG_URLS": {"r1": r1.url, "r2": r2.url}})
        client = app.test_client()
        client.environ_base["HTTP_X_API_KEY"] = api_key(session_redis.url)["X-API-Key"]
        yield client


def post_csv(client: FlaskClient, text: str) -> dict[str, object]:
    r = client.post("/api/v1/directory/import", data=text.encode(),
                    content_type="text/csv; charset=utf-8")
    assert r.status_code == 200, r.json
    return r.json


def test_importing_twice_changes_nothing(client: FlaskClient, redis_client: redis.Redis) -> None:
    first = post_csv(client, CSV)
    assert (first["rows"], first["created"], first["updated"], first["unchanged"]) == (4, 4, 0, 0)
    assert first["rejected"] == []
    before = {k: redis_client.dump(k) for k in sorted(redis_client.keys("nv:cloud:[cmu]*"))}
    second = post_csv(client, CSV)
    assert (second["created"], second["updated"], second["unchanged"]) == (0, 0, 4)
    after = {k: redis_client.dump(k) for k in sorted(redis_client.keys("nv:cloud:[cmu]*"))}
    assert after == before
    directory = Directory(redis_client)
    joao = directory.get("10002")
    assert (joao.region, joao.kind, joao.meter) == ("r2", "electricity", "r2-e000001")
    assert directory.get("2000501").kind == "water"
    assert directory.by_meter("r1-e000002").tariff == "seed-flat"


def test_bad_rows_are_reported_with_their_reason_and_change_nothing(
        client: FlaskClient, redis_client: redis.Redis) -> None:
    post_csv(client, CSV)
    report = post_csv(client, BAD)
    reasons = {r["row"]: r["reason"] for r in report["rejected"]}
    assert report["rows"] == 10 and report["created"] == 1  # hugo, the first 1000011
    assert "region 'r9' has no fog node" in reasons[1]
    assert "registration" in reasons[2]
    assert reasons[3] == "username 'maria' belongs to registration 10001"
    assert reasons[4] == "meter 'r1-e000001' belongs to registration 10001"
    assert "unknown meter kind 'gas'" in reasons[5]
    assert reasons[6] == "missing username"
    assert reasons[7] == "tariff 'water-residential' prices m3, the meter measures kWh"
    assert "kind is missing" in reasons[8]
    assert reasons[10] == "registration 1000011 repeated (first at row 9)"
    assert sorted(reasons) == [1, 2, 3, 4, 5, 6, 7, 8, 10]
    assert Directory(redis_client).count() == 5


def test_json_export_and_moving_a_meter_between_registrations(client: FlaskClient,
                                                             redis_client: redis.Redis) -> None:
    rows = [{"matricula": "10001", "username": "maria", "meter_id": "r1-e000001",
             "region": "r1"}]
    r = client.post("/api/v1/directory/import", data=json.dumps({"customers": rows}),
                    content_type="application/json")
    assert r.json["created"] == 1
    rows[0]["meter_id"] = "r1-e000009"  # maria's meter replaced: the old one is freed
    rows.append({"matricula": "3", "username": "bia", "meter_id": "r1-e000001",
                 "region": "r1"})
    r = client.post("/api/v1/directory/import", json=rows)
    assert (r.json["updated"], r.json["created"], r.json["rejected"]) == (1, 1, [])
    assert Directory(redis_client).by_meter("r1-e000001").username == "bia"


def test_unreadable_bodies_are_400(client: FlaskClient) -> None:
    for data, ctype in ((b"{", "application/json"), (b'{"x": 1}', "application/json"),
                        (b"", "text/csv"), (b"\xff\xfe", "text/csv"), (b"x", "image/png")):
        r = client.post("/api/v1/directory/import", data=data, content_type=ctype)
        assert r.status_code == 400 and r.json["error"], (data, ctype)
