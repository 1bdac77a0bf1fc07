"""Alerts, commands and supply policies on real Mosquitto and Redis, with a meter stand-in
that answers commands the way the meter simulator does (nevoa_core.commands contract)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
import redis
from flask.testing import FlaskClient
from paho.mqtt.enums import CallbackAPIVersion

from fog_node.api import create_app
from fog_node.node import FogNode
from nevoa_core import topics
from nevoa_core.clock import shifted_spec
from nevoa_core.commands import Action, CommandAck, Outcome, decode_command
from nevoa_core.kinds import Kind
from nevoa_core.periods import Step
from nevoa_core.senml import Reading
from nevoa_stack.services import Service
from tests.instants import Instant
from tests.integration.fog_support import (
    fog_config,
    raw_publish,
    reading_message,
    running_node,
    water_readings,
)
from tests.support import wait_until


class MeterStandIn:
    """Answers commands on the region's command topics; ignores the first ``drop``."""

    def __init__(self, broker: Service, region: str, drop: int = 0) -> None:
        self.received: list[str] = []
        self.drop = drop
        self.valves: dict[str, str] = {}
        self._applied: set[str] = set()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"stand-in-{region}")
        self._client.on_message = self._on_message
        self._client.connect(broker.host, broker.port)
        self._client.subscribe(topics.region_filter(region, topics.Channel.COMMAND), qos=1)
        self._client.loop_start()
        self.region = region

    def _on_message(self, c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        meter = topics.parse_meter_topic(message.topic).meter
        command = decode_command(message.payload)
        self.received.append(command.id)
        if self.drop > 0:
            self.drop -= 1
            return
        if command.id in self._applied:
            outcome = Outcome.DUPLICATE
        else:
            self._applied.add(command.id)
            outcome = Outcome.APPLIED
            if command.action in (Action.CLOSE_VALVE, Action.OPEN_VALVE):
                self.valves[meter] = "closed" if command.action is Action.CLOSE_VALVE else "open"
        ack = CommandAck(command.id, outcome, time.time(), "done", self.valves.get(meter))
        c.publish(topics.command_ack(self.region, meter), ack.encode(), qos=1)

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


class AlertListener:
    def __init__(self, broker: Service, region: str) -> None:
        self.alerts: list[dict[str, object]] = []
        self._lock = threading.Lock()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"listen-{region}")
        self._client.on_message = lambda _c, _u, m: self.alerts.append(json.loads(m.payload))
        self._client.connect(broker.host, broker.port)
        self._client.subscribe(topics.alerts(region), qos=1)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@pytest.fixture
def node(session_broker: Service, session_redis: object, redis_client: redis.Redis,
         region: str, instant: Instant) -> Iterator[FogNode]:
    """A fog node whose clock starts at the instant, in the instant's time zone."""
    config = fog_config(region, session_broker.host, session_broker.port,
                        session_redis.url, command_retry=0.3,  # type: ignore[attr-defined]
                        timezone=instant.zone,
                        clock_start=shifted_spec(instant.epoch, time.time()))
    with running_node(config) as running:
        wait_until(running.publisher.connected.is_set, what="the publisher")
        yield running


@pytest.fixture
def api(node: FogNode) -> FlaskClient:
    return create_app(node.services()).test_client()


def command_state(api: FlaskClient, command_id: str) -> str:
    return str(api.get(f"/api/v1/commands/{command_id}").get_json()["state"])


def test_a_command_is_applied_and_the_valve_state_follows(
        node: FogNode, api: FlaskClient, session_broker: Service, region: str) -> None:
    meter = MeterStandIn(session_broker, region)
    try:
        sent = api.post("/api/v1/meters/w1/commands",
                        json={"action": "close_valve", "reason": "debt", "by": "billing"})
        command_id = sent.get_json()["id"]
        wait_until(lambda: command_state(api, command_id) == "applied", what="applied")
    finally:
        meter.stop()
    body = api.get(f"/api/v1/commands/{command_id}").get_json()
    assert body["attempts"] == 1 and body["acknowledged_at"] and body["outcome_detail"] == "done"
    assert node.store.summary("w1").valve == "closed"  # type: ignore[union-attr]
    assert node.redis.hget(node.store.keys.closed_valves, "w1") == "debt"
    events = [e["event"] for e in api.get("/api/v1/audit").get_json()["entries"]]
    assert events == ["command_acknowledged", "command_sent", "command_issued"]


def test_an_unanswered_command_is_retried_until_acknowledged(
        node: FogNode, api: FlaskClient, session_broker: Service, region: str) -> None:
    meter = MeterStandIn(session_broker, region, drop=2)
    try:
        command_id = api.post("/api/v1/meters/w1/commands", json={
            "action": "set_interval", "args": {"seconds": 5}}).get_json()["id"]
        wait_until(lambda: command_state(api, command_id) == "applied", what="applied")
    finally:
        meter.stop()
    assert api.get(f"/api/v1/commands/{command_id}").get_json()["attempts"] == 3
    assert meter.received == [command_id] * 3


def test_a_command_nobody_answers_expires(node: FogNode, api: FlaskClient) -> None:
    command_id = api.post("/api/v1/meters/w9/commands",
                          json={"action": "open_valve", "ttl": 1}).get_json()["id"]
    wait_until(lambda: command_state(api, command_id) == "expired", what="expired")
    events = [e["event"] for e in api.get("/api/v1/audit").get_json()["entries"]]
    assert events[0] == "command_expired" and "command_sent" in events


def test_excess_opens_one_alert_published_then_acknowledged(
        node: FogNode, api: FlaskClient, session_broker: Service, region: str) -> None:
    listener = AlertListener(session_broker, region)
    try:
        hour = node.calendar.period_containing(Step.HOUR, node.clock.now() - 10).start_epoch
        # one reading per hour: 1 m3 in each of three hours, then 2 in the last complete one
        registers = [100.0, 101.0, 102.0, 103.0, 105.0, 105.5]
        readings = [Reading("w1", i + 1, hour - 3600 * (5 - i) + 5, Kind.WATER, reg)
                    for i, reg in enumerate(registers)]
        raw_publish(session_broker.host, session_broker.port,
                    [reading_message(region, r) for r in readings])
        wait_until(lambda: listener.alerts, what="an alert on the alerts topic")
        alert = listener.alerts[0]
        assert (alert["type"], alert["meter"], alert["state"]) == ("excess", "w1", "open")
        assert alert["detail"]["excess"] == 1.0
        node.judge.judge_meters(["w1"])  # judged again: still one open alert
        opened = api.get("/api/v1/alerts?state=open&type=excess").get_json()["alerts"]
        assert [a["id"] for a in opened] == [alert["id"]]
        api.post(f"/api/v1/alerts/{alert['id']}/ack", json={"by": "ana"})
        wait_until(lambda: len(listener.alerts) == 2, what="the acknowledgement published")
        assert listener.alerts[1]["state"] == "acknowledged"
    finally:
        listener.stop()


def test_the_rationing_cap_cuts_and_restores_a_meter(
        node: FogNode, api: FlaskClient, session_broker: Service, region: str) -> None:
    meter = MeterStandIn(session_broker, region)
    try:
        api.put("/api/v1/policy", json={"rationing_cap": 1.0, "cut_above_cap": True})
        # today (local), whatever the time: the cap is per day
        now = node.clock.now()
        start = max(now - 120, node.calendar.period_containing(Step.DAY, now).start_epoch + 1)
        readings = water_readings("w1", 3, start, step=30, per_step=1.0)
        raw_publish(session_broker.host, session_broker.port,
                    [reading_message(region, r) for r in readings])
        wait_until(lambda: meter.valves.get("w1") == "closed", what="the cut")
        wait_until(lambda: node.store.summary("w1").valve == "closed",  # type: ignore[union-attr]
                   what="the valve state")
        alerts = api.get("/api/v1/alerts?state=open&type=above_cap").get_json()["alerts"]
        assert alerts[0]["detail"]["cap"] == 1.0
        api.put("/api/v1/policy", json={"cut_above_cap": False})
        node.judge.judge_meters(["w1"])
        wait_until(lambda: meter.valves.get("w1") == "open", what="the restore")
    finally:
        meter.stop()
    reasons = [(e.get("action"), e.get("reason"), e.get("by"))
               for e in api.get("/api/v1/audit").get_json()["entries"]
               if e["event"] == "command_issued"]
    assert reasons == [("open_valve", "cap", "policy"), ("close_valve", "cap", "policy")]


def test_a_flood_of_acks_for_unknown_commands_cannot_flush_the_audit_trail(
        node: FogNode, api: FlaskClient, session_broker: Service, region: str,
        caplog: pytest.LogCaptureFixture) -> None:
    """Before: every such ack was one audit entry and one warning (110,000 in 15 s evicted
    the whole capped trail). Now they are counted, and reported once per interval."""
    caplog.set_level(logging.WARNING, "nevoa.fog.commands")
    api.put("/api/v1/policy", json={"rationing_cap": 3.0, "by": "ana"})
    flood = 5000
    acks = [(topics.command_ack(region, "w1"),
             CommandAck(f"c-{i:016x}", Outcome.APPLIED, time.time(), "done").encode())
            for i in range(flood)]
    raw_publish(session_broker.host, session_broker.port, acks)
    wait_until(lambda: node.store.stats()["rejected"].get("unknown_command_ack") == flood,
               what="every unknown ack counted")
    entries = api.get("/api/v1/audit?limit=1000").get_json()["entries"]
    # the first report at once, the next not before a minute: the earlier entry stays
    assert [e["event"] for e in entries] == ["ack_ignored", "policy_changed"]
    assert 1 <= int(entries[0]["count"]) <= flood and "w1 (" in entries[0]["meters"]
    assert len([r for r in caplog.records if r.name == "nevoa.fog.commands"]) == 1
    assert "unknown_command_ack" in api.get("/metrics").get_data(as_text=True)
