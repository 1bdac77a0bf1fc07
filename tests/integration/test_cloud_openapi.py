"""The OpenAPI document matches the real routes, and a property-based run over it
(schemathesis) finds no server error."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import redis
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from cloud import create_app
from cloud.demo import demo_customers
from cloud.directory import Directory
from nevoa_stack.services import RedisBinary, RedisContainer
from tests.integration.cloud_support import ContractFog, api_key

IGNORED_METHODS = {"HEAD", "OPTIONS"}
EXAMPLES_PER_OPERATION = 8


@pytest.fixture
def app(session_redis: RedisBinary | RedisContainer, redis_client: redis.Redis
        ) -> Iterator[Flask]:
    with ContractFog("r1") as r1, ContractFog("r2") as r2:
        Directory(redis_client).add_many(demo_customers(["r1", "r2"], 2))
        r1.add_readings("r1-e000001", "electricity", [(1.7e9, 1.0), (1.7e9 + 60, 2.0)])
        yield create_app({"REDIS_URL": session_redis.url, "SECRET_KEY": "s" * 32,
                          "FOG_URLS": {"r1": r1.url, "r2": r2.url}, "FOG_TIMEOUT": 1.0})


def flask_operations(app: Flask) -> set[tuple[str, str]]:
    return {(method.lower(), re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule))
            for rule in app.url_map.iter_rules()
            for method in rule.methods or () if method not in IGNORED_METHODS}


def test_every_route_is_documented_and_every_documented_route_exists(app: Flask) -> None:
    spec = app.test_client().get("/openapi.json").json
    documented = {(method, path) for path, item in spec["paths"].items() for method in item}
    assert flask_operations(app) == documented


def test_the_docs_page_lists_every_operation(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/docs").get_data(as_text=True)
    for path in client.get("/openapi.json").json["paths"]:
        assert f"<code>{path}</code>" in page


@pytest.fixture
def operator_headers(session_redis: RedisBinary | RedisContainer,
                     redis_client: redis.Redis) -> dict[str, str]:
    return api_key(session_redis.url)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_generated_request_makes_the_api_fail(app: Flask, operator_headers: dict[str, str],
                                                 mode: GenerationMode) -> None:
    """Requests generated from the document, valid and invalid, with an operator's key
    (which may read everything): none may answer 5xx."""
    api_schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    spec = app.test_client().get("/openapi.json").json
    seen: set[tuple[str, str]] = set()
    undocumented: set[tuple[str, str, int]] = set()

    def no_server_error(case: schemathesis.Case) -> None:
        response = case.call(headers=operator_headers)
        assert response.status_code < 500, (case.method, case.formatted_path, response.text)
        seen.add((case.method.lower(), case.path))
        if str(response.status_code) not in spec["paths"][case.path][case.method.lower()][
                "responses"]:
            undocumented.add((case.method, case.path, response.status_code))

    for operation in api_schema.get_all_operations():
        run = given(operation.ok().as_strategy(mode))(settings(
            max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
            derandomize=True, suppress_health_check=list(HealthCheck))(
                lambda case: no_server_error(case)))
        try:
            run()
        except Unsatisfiable:  # nothing about this operation can be made invalid
            assert mode is GenerationMode.NEGATIVE
    # an operation without any input has one request only; hypothesis may not repeat it
    trivial = {(m, p) for p, item in spec["paths"].items() for m, op in item.items()
               if not op.get("parameters") and "requestBody" not in op}
    assert undocumented == set(), "statuses the document does not list"
    if mode is GenerationMode.POSITIVE:
        assert flask_operations(app) - seen <= trivial
