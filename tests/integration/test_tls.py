"""TLS end to end on a real Mosquitto with certificates from broker/gen_certs.py: readings
sent over TLS (by paho and by the meter simulator) are stored by a fog node that reaches
the broker over TLS; a fog node whose CA did not sign the broker's certificate is refused
and retries, storing nothing; the broker's host name is checked; the local stack runs
on TLS with ``tls=True``."""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import redis
from paho.mqtt.enums import CallbackAPIVersion

from fog_node import cli as fog_cli
from fog_node.keys import RegionKeys
from fog_node.mqtt_link import IngestLink, LinkSettings, tls_client_context
from fog_node.node import FogNode
from meter import cli as meter_cli
from nevoa_core import topics
from nevoa_core.senml import encode_pack
from nevoa_stack.processes import free_port
from nevoa_stack.services import BrokerTls, Service, broker, generate_tls
from nevoa_stack.stack import LocalStack
from tests.integration.fog_support import fog_config, reading_message, running_node, water_readings
from tests.integration.test_meter_support import Simulator
from tests.support import wait_until


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tls")
    generate_tls(out, ["r1"])
    return out


@pytest.fixture(scope="module")
def ca(certs: Path) -> Path:
    return certs / "ca" / "ca.crt"


@pytest.fixture(scope="module")
def foreign_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second CA, made the same way: it signed nothing the broker holds."""
    out = tmp_path_factory.mktemp("tls-foreign")
    generate_tls(out, ["r1"])
    return out / "ca" / "ca.crt"


def started(service: Service) -> Iterator[Service]:
    service.start()
    yield service
    service.stop()


@pytest.fixture(scope="module")
def tls_broker(certs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    yield from started(broker(tmp_path_factory.mktemp("mosquitto-tls"), name="tls-mosquitto",
                              tls=BrokerTls.from_dir(certs / "r1" / "tls")))


def tls_publish(broker_: Service, ca: Path, messages: Sequence[tuple[str, bytes]],
                host: str | None = None) -> None:
    """paho over TLS, as a device would configure it; returns once all are acknowledged."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="tls-test-publisher")
    c.tls_set(ca_certs=str(ca), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    c.connect(host or broker_.host, broker_.port)
    c.loop_start()
    try:
        infos = [c.publish(t, p, qos=1) for t, p in messages]
        for info in infos:
            info.wait_for_publish(20)
            assert info.is_published()
    finally:
        c.disconnect()
        c.loop_stop()


def test_readings_sent_over_tls_are_stored_by_a_fog_node_on_tls(
        tls_broker: Service, ca: Path, session_redis: object, redis_client: redis.Redis,
        region: str) -> None:
    config = fog_config(region, tls_broker.host, tls_broker.port,
                        session_redis.url, tls_ca=str(ca))  # type: ignore[attr-defined]
    readings = [r for m in range(5) for r in water_readings(f"m{m}", 20, time.time() - 3600)]
    with running_node(config) as node:
        tls_publish(tls_broker, ca, [reading_message(region, r) for r in readings])
        wait_until(lambda: node.store.stats()["stored"] == 100, what="100 stored")
        assert node.publisher.connected.wait(5), "the fog's publisher did not connect over TLS"
    assert node.store.stats()["duplicates"] == 0


def test_a_backlog_of_large_packs_drains_over_tls(
        tls_broker: Service, ca: Path, session_redis: object, redis_client: redis.Redis,
        region: str) -> None:
    """Packs of ~230 KB span many TLS records, and 2,000 small ones arrive many to a read:
    the link must read on until the SSL object holds nothing (pending bytes)."""
    config = fog_config(region, tls_broker.host, tls_broker.port,
                        session_redis.url, tls_ca=str(ca))  # type: ignore[attr-defined]
    with running_node(config):
        pass  # the persistent session now holds what arrives while the node is away
    start = time.time() - 7 * 86_400
    big = [(topics.reading(region, f"big{m}"),
            encode_pack(f"big{m}", water_readings(f"big{m}", 3000, start, step=60)))
           for m in range(4)]
    small = [reading_message(region, r) for m in range(100)
             for r in water_readings(f"s{m}", 20, start)]
    tls_publish(tls_broker, ca, [*big, *small])
    with running_node(config) as node:
        wait_until(lambda: node.store.stats()["stored"] == 4 * 3000 + 2000, timeout=60,
                   what="the whole backlog stored")
    assert node.store.stats()["rejected_total"] == 0


def test_meters_publish_over_tls(tls_broker: Service, ca: Path, session_redis: object,
                                 redis_client: redis.Redis, region: str,
                                 tmp_path: Path) -> None:
    config = fog_config(region, tls_broker.host, tls_broker.port,
                        session_redis.url, tls_ca=str(ca))  # type: ignore[attr-defined]
    with running_node(config) as node:
        sim = Simulator(tmp_path, tls_broker.host, tls_broker.port, region, "--count", "20",
                        "--interval", "1", "--tls-ca", str(ca)).start()
        try:
            wait_until(lambda: node.store.stats()["stored"] >= 60, timeout=30,
                       what="readings from the simulated meters")
            assert sim.stop() < 5
        finally:
            sim.ensure_stopped()
        summary = sim.summary()
        wait_until(lambda: node.store.stats()["stored"] == summary["produced"]
                   - summary["backlog"], what="every reading sent stored")
    assert "over TLS" in sim.log()


# paho-mqtt 2.2 drops the SSLSocket of a failed handshake without closing it (the
# publisher's attempts): the garbage collector closes it, with a ResourceWarning
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_fog_node_with_another_ca_is_refused_and_stores_nothing(
        tls_broker: Service, ca: Path, foreign_ca: Path, session_redis: object,
        redis_client: redis.Redis, region: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="nevoa.fog.mqtt")
    config = fog_config(region, tls_broker.host, tls_broker.port,
                        session_redis.url, tls_ca=str(foreign_ca))  # type: ignore[attr-defined]
    client = redis.Redis.from_url(config.redis_url, decode_responses=True)
    node = FogNode(config, client)
    node.start()
    try:
        tls_publish(tls_broker, ca, [reading_message(region, r)
                                     for r in water_readings("m1", 10, time.time() - 600)])
        refusals = wait_until(lambda: [r for r in caplog.records
                                       if "certificate verify failed" in r.getMessage()],
                              timeout=10, what="the refusal logged")
        wait_until(lambda: len([r for r in caplog.records if "retrying" in r.getMessage()]) >= 2,
                   timeout=10, what="a second attempt")
        assert not node.ingestor.connected.is_set()
        assert not node.publisher.connected.is_set()
        assert int(client.hget(RegionKeys(region).stats, "stored") or 0) == 0
        assert "retrying" in refusals[0].getMessage()
    finally:
        node.stop()
        client.close()


@pytest.fixture(scope="module")
def names_only_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, Path]]:
    """A broker whose certificate names mqtt-r1 and localhost, but no IP address."""
    out = tmp_path_factory.mktemp("tls-names")
    tls = generate_tls(out, ["r1"], "--no-local-names", "--host", "localhost")["r1"]
    for service in started(broker(tmp_path_factory.mktemp("mosquitto-names"),
                                  name="names-mosquitto", tls=tls)):
        yield service, tls.cafile


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # as above
@pytest.mark.parametrize(("host", "accepted"), [("localhost", True), ("127.0.0.1", False)])
def test_the_broker_host_name_is_verified(names_only_broker: tuple[Service, Path], host: str,
                                          accepted: bool) -> None:
    service, cafile = names_only_broker
    link = IngestLink(LinkSettings(host, service.port, f"names-{accepted}", ("nevoa/none/#",),
                                   clean_start=True, tls=tls_client_context(cafile)),
                      lambda _p, _g: None)
    link.start()
    try:
        assert link.connected.wait(3) is accepted
    finally:
        link.stop()
    if not accepted:  # paho (meters, the fog's publisher) checks it too
        with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
            tls_publish(service, cafile, [], host=host)


def test_cli_flags_pick_the_tls_port(ca: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NEVOA_BROKER_PORT", "NEVOA_TLS_CA"):
        monkeypatch.delenv(name, raising=False)

    def meter_port(*args: str) -> int:
        p = meter_cli.build_parser()
        return meter_cli._config(p, p.parse_args(["--region", "r1", *args])).broker_port

    assert meter_port() == 1883
    assert meter_port("--tls-ca", str(ca)) == 8883
    assert meter_port("--tls-ca", str(ca), "--broker-port", "18883") == 18883
    assert fog_cli.parse_args(["--region", "r1"])[0].broker_port == 1883
    fog, _ = fog_cli.parse_args(["--region", "r1", "--tls-ca", str(ca)])
    assert (fog.broker_port, fog.tls_ca) == (8883, str(ca))
    monkeypatch.setenv("NEVOA_TLS_CA", str(ca))
    assert meter_port() == 8883
    not_a_ca = tmp_path / "nothing.crt"
    not_a_ca.write_text("no certificate here\n")
    for args in (["--tls-ca", str(tmp_path / "missing.crt")], ["--tls-ca", str(not_a_ca)]):
        with pytest.raises(SystemExit):
            meter_port(*args)
        with pytest.raises(SystemExit):
            fog_cli.parse_args(["--region", "r1", *args])


def test_the_local_stack_runs_on_tls(tmp_path: Path, region: str) -> None:
    stack = LocalStack(tmp_path, [region], cloud_port=free_port(), tls=True)
    try:
        rp = stack.start_region(region)
        assert rp.tls_ca == tmp_path / "tls" / region / "tls" / "ca.crt"
        assert "cafile" in (tmp_path / region / "mosquitto" / "mosquitto.conf").read_text()
        stack.start_meters(region, 3, 1.0, water=0)
        client = redis.Redis.from_url(rp.redis.url, decode_responses=True)
        try:
            wait_until(lambda: int(client.hget(RegionKeys(region).stats, "stored") or 0) >= 3,
                       timeout=30, what="meter readings stored through the TLS broker")
        finally:
            client.close()
        assert stack.describe()["regions"][region]["broker"]["tls_ca"] == str(rp.tls_ca)
    finally:
        stack.stop()
