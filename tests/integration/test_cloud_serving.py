"""The cloud served by waitress in several processes sharing one port: a token issued
by one worker is accepted by every other, and stopping the server stops them all."""

from __future__ import annotations

import sys
from pathlib import Path

import redis

from cloud.demo import demo_customers
from cloud.directory import Directory
from nevoa_stack.processes import ChildProcess, free_port
from nevoa_stack.services import RedisBinary, RedisContainer
from tests.support import http


def test_workers_share_the_port_and_the_token_secret(
        tmp_path: Path, session_redis: RedisBinary | RedisContainer,
        redis_client: redis.Redis) -> None:
    Directory(redis_client).add_many(demo_customers(["r1"], 1))
    port = free_port()
    cloud = ChildProcess("cloud", [sys.executable, "-m", "cloud", "--redis-url",
                                   session_redis.url, "serve", "--port", str(port),
                                   "--processes", "3", "--threads", "2"],
                         tmp_path / "cloud.log")
    cloud.start()
    try:
        cloud.wait_port("127.0.0.1", port)
        base = f"http://127.0.0.1:{port}"
        status, body = http("POST", base + "/api/v1/auth/login",
                            {"username": "maria", "registration": "10001"})
        assert status == 200, body
        auth = {"Authorization": f"Bearer {body['token']}"}
        for _ in range(30):  # new connections: the kernel spreads them over the workers
            status, body = http("GET", base + "/api/v1/customers/10001", headers=auth)
            assert status == 200, body
    finally:
        cloud.stop()
    assert not cloud.running
