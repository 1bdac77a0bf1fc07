"""The local stack under its supervisor: a child killed with -9 comes back on its port
with its data; a service whose port another program took starts on another."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from nevoa_core import topics
from nevoa_core.kinds import Kind
from nevoa_core.senml import Reading, encode_pack
from nevoa_stack import processes
from nevoa_stack.processes import ChildProcess, ServiceFailed, free_port, port_open
from nevoa_stack.services import HOST, RedisBinary, RedisContainer, Service, broker, redis_server
from nevoa_stack.stack import LocalStack, RegionProcesses
from nevoa_stack.supervise import Supervisor
from tests.support import http, publish_qos1, wait_until

METER = "r1-e000001"


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[LocalStack]:
    """Region r1 (Mosquitto, Redis, fog node) with a supervisor running over it."""
    stack = LocalStack(tmp_path / "stack", ["r1"], cloud_port=free_port())
    stop = threading.Event()
    watcher: threading.Thread | None = None
    try:
        rp = stack.start_region("r1")
        if rp.redis.process is None:
            pytest.skip("Redis runs in a container: the Docker engine restarts those")
        watcher = threading.Thread(target=Supervisor(stack.children(), poll=0.2).run,
                                   args=(stop,), name="supervisor")
        watcher.start()
        yield stack
    finally:
        stop.set()
        if watcher is not None:
            watcher.join(30)
        stack.stop()


def readings(fog_url: str) -> int:
    try:
        status, body = http("GET", f"{fog_url}/api/v1/meters/{METER}/readings?limit=5",
                            timeout=2)
    except OSError:  # not listening yet
        return 0
    return len(body["readings"]) if status == 200 else 0


def healthy(fog_url: str) -> bool:
    try:
        return http("GET", f"{fog_url}/health", timeout=2)[0] == 200
    except OSError:
        return False


def logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return text in caplog.text


@pytest.mark.slow
def test_a_killed_fog_node_and_redis_come_back_on_their_ports_with_their_data(
        supervised: LocalStack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "nevoa.stack")
    rp = supervised.region_processes["r1"]
    fog, store = rp.fog, rp.redis.process
    assert fog is not None and fog.proc is not None and store is not None
    fog_url, redis_url = rp.fog_url, rp.redis.url
    t0 = time.time() - 60
    publish_qos1(rp.broker.host, rp.broker.port, [(topics.reading("r1", METER), encode_pack(
        METER, [Reading(METER, 1, t0, Kind.ELECTRICITY, 10.0)]))], client_id="test-supervise")
    wait_until(lambda: readings(fog_url) == 1, what="the reading stored")

    first_fog = fog.proc.pid
    os.kill(first_fog, signal.SIGKILL)
    wait_until(lambda: logged(caplog, "fog-r1 exited with signal 9 (SIGKILL); "
                              "restarting in 1 s (restart 1)"), what="the death logged")
    wait_until(lambda: logged(caplog, "fog-r1 is running again (restart 1)"), timeout=20,
               what="the fog node restarted")
    assert fog.proc.pid != first_fog and rp.fog_url == fog_url
    wait_until(lambda: healthy(fog_url), what="the fog node healthy on its port")

    assert store.proc is not None
    os.kill(store.proc.pid, signal.SIGKILL)
    wait_until(lambda: logged(caplog, "redis-r1 exited with signal 9 (SIGKILL)"),
               what="Redis's death logged")
    wait_until(lambda: logged(caplog, "redis-r1 is running again"), timeout=20,
               what="Redis restarted")
    assert rp.redis.url == redis_url
    wait_until(lambda: healthy(fog_url), timeout=20, what="the fog node healthy again")
    assert readings(fog_url) == 1  # Redis came back with its append-only file
    assert "last lines of" in caplog.text


def occupy(port: int, how: str) -> socket.socket:
    """Hold ``port`` as another program would: bound only, or listening."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((HOST, port))
    if how != "bound":
        s.listen()
    return s


@pytest.mark.parametrize("kind", ["mosquitto", "redis"])
@pytest.mark.parametrize("how", ["bound", "listening", "listening-after-the-check"])
def test_a_service_whose_port_was_taken_starts_on_another(
        tmp_path: Path, kind: str, how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    service: Service = (broker(tmp_path, name="taken-mosquitto") if kind == "mosquitto"
                        else redis_server(tmp_path, name="taken-redis", durable=False))
    if service.process is None:
        pytest.skip("a container: Docker binds its port")
    wanted = service.port
    holder = occupy(wanted, how)
    if how == "listening-after-the-check":  # lose the race: taken between check and bind
        real, calls = processes.port_open, []

        def open_once_checked(host: str, port: int) -> bool:
            calls.append(port)
            return len(calls) > 1 and real(host, port)  # the first check sees it free

        monkeypatch.setattr(processes, "port_open", open_once_checked)
    try:
        service.start()
        assert service.port != wanted and port_open(service.host, service.port)
        if isinstance(service, RedisBinary | RedisContainer):
            assert redis.Redis.from_url(service.url).ping()
        moved = service.port
        service.kill()
        service.start()  # from now on its port is fixed
        assert service.port == moved
    finally:
        holder.close()
        service.stop()


def test_a_fog_node_whose_port_was_taken_starts_on_another(
        tmp_path: Path, region: str, session_broker: Service,
        session_redis: RedisBinary | RedisContainer) -> None:
    stack = LocalStack(tmp_path, [region])
    rp = RegionProcesses(region, session_broker, session_redis, free_port())
    wanted = rp.fog_port
    holder = occupy(wanted, "bound")
    try:
        stack.start_fog(rp)
        assert rp.fog_port != wanted
        wait_until(lambda: http("GET", f"{rp.fog_url}/health")[0] == 200,
                   what="the fog node on its new port")
    finally:
        holder.close()
        stack.stop()


def test_a_listener_of_another_program_does_not_pass_for_the_child(tmp_path: Path) -> None:
    port = free_port()
    holder = occupy(port, "listening")
    child = ChildProcess("sleeper", ["sleep", "30"], tmp_path / "sleeper.log")
    child.start()
    try:
        with pytest.raises(ServiceFailed, match="did not open"):
            child.wait_port(HOST, port, timeout=0.5)
    finally:
        holder.close()
        child.stop()


def test_free_ports_are_distinct_and_outside_the_ephemeral_range() -> None:
    low, _high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    if low >= 21000:  # room below the ephemeral range
        assert all(p < low for p in ports)
