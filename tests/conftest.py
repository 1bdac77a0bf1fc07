"""Real Mosquitto and Redis for the tests, one way for every test.

``nevoa_stack.services`` decides how: a container when a Docker engine holds the
image (testcontainers), the local binaries otherwise. Session-scoped services serve
most tests (each test uses its own region id, so topics and keys never collide);
the ``service_factory`` fixture gives a test its own services to stop, kill and
restart.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from nevoa_stack.services import RedisBinary, RedisContainer, Service, broker, redis_server
from tests.instants import Instant, selected


@pytest.fixture(scope="session")
def session_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    service = broker(tmp_path_factory.mktemp("mosquitto"), name="test-mosquitto")
    service.start()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def session_redis(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RedisBinary | RedisContainer]:
    service = redis_server(tmp_path_factory.mktemp("redis"), name="test-redis", durable=False)
    service.start()
    yield service
    service.stop()


@pytest.fixture
def redis_client(session_redis: RedisBinary | RedisContainer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(session_redis.url, decode_responses=True)
    client.flushall()
    yield client
    client.flushall()
    client.close()


@pytest.fixture
def region() -> str:
    """A region id of the test's own: topics and keys of other tests never collide."""
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture(params=selected(), ids=lambda i: i.name)
def instant(request: pytest.FixtureRequest) -> Instant:
    """A date-sensitive test runs once per instant of tests/instants.py."""
    found: Instant = request.param
    return found


@pytest.fixture(scope="module", params=selected(), ids=lambda i: i.name)
def module_instant(request: pytest.FixtureRequest) -> Instant:
    """The same, for a module whose stack is shared by its tests."""
    found: Instant = request.param
    return found


ServiceFactory = Callable[..., Service]


@pytest.fixture
def service_factory(tmp_path: Path) -> Iterator[Callable[[str], Service]]:
    """``service_factory("mosquitto")`` / ``("redis")``: a started service of the test's
    own, stopped at the end whatever the test did to it."""
    started: list[Service] = []

    def make(kind: str, **kwargs: object) -> Service:
        workdir = tmp_path / f"{kind}-{len(started)}"
        service: Service = (
            broker(workdir, name=f"{kind}-{len(started)}")
            if kind == "mosquitto"
            else redis_server(workdir, name=f"{kind}-{len(started)}", **kwargs)  # type: ignore[arg-type]
        )
        service.start()
        started.append(service)
        return service

    yield make
    for service in started:
        try:
            service.stop()
        except Exception:  # a test may have left it killed: stopping the rest matters more
            pass
