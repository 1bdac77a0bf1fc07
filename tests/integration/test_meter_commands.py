"""Remote commands on a real Mosquitto: obeyed, acknowledged with id and outcome, applied
once per id; the meter's status is retained online/offline."""

from __future__ import annotations

import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from nevoa_core import topics
from nevoa_core.commands import Action, Command
from nevoa_stack.services import Service
from tests.integration.test_meter_support import Collector, Simulator
from tests.support import wait_until


def send(broker: Service, region: str, meter: str, command: Command) -> None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"fog-{region}-{command.id}")
    c.connect(broker.host, broker.port)
    c.loop_start()
    c.publish(topics.command(region, meter), command.encode(), qos=1).wait_for_publish(5)
    c.disconnect()
    c.loop_stop()


def command(cid: str, action: Action, **args: object) -> Command:
    now = time.time()
    return Command(cid, action, now, now + 60, dict(args))


@pytest.mark.parametrize("mode", ["per-meter", "multiplexed"])
def test_close_valve_stops_consumption_and_each_id_is_applied_once(
        mode: str, tmp_path: Path, region: str, session_broker: Service) -> None:
    broker = session_broker
    meter = f"{region}-w500001"
    collector = Collector(broker.host, broker.port, region)
    sim = Simulator(tmp_path, broker.host, broker.port, region, "--kind", "water",
                    "--mode", mode, "--count", "2", "--interval", "60", "--speed", "600",
                    "--tendency", "fast", "--fault", f"leak={meter}").start()
    try:
        wait_until(lambda: collector.statuses.get(meter) == "online", what="online status")
        wait_until(lambda: len(collector.of(meter)) >= 5, what="readings")
        assert all(r.rate and r.rate > 0 for r in collector.of(meter))  # it leaks

        send(broker, region, meter, command("close-1", Action.CLOSE_VALVE))
        ack = wait_until(lambda: collector.ack("close-1"), what="the close ack")
        assert (ack.outcome.value, ack.valve) == ("applied", "closed")
        seen = len(collector.of(meter))
        wait_until(lambda: len(collector.of(meter)) >= seen + 6, what="readings while closed")
        closed = collector.of(meter)[-4:]
        assert len({r.register for r in closed}) == 1 and all(r.rate == 0 for r in closed)

        send(broker, region, meter, command("close-1", Action.CLOSE_VALVE))
        assert wait_until(lambda: collector.ack("close-1", "duplicate"), what="duplicate ack")
        send(broker, region, meter, command("open-1", Action.OPEN_VALVE))
        assert wait_until(lambda: collector.ack("open-1"), what="open ack").valve == "open"
        send(broker, region, meter, command("close-1", Action.CLOSE_VALVE))  # once more
        wait_until(lambda: len([a for a in collector.acks if a.id == "close-1"]) == 3,
                   what="the third ack of close-1")
        again = [a for a in collector.acks if a.id == "close-1"]
        assert [a.outcome.value for a in again] == ["applied", "duplicate", "duplicate"]
        assert again[-1].valve == "open"  # not applied again: the valve stayed open
        seen = len(collector.of(meter))
        wait_until(lambda: len(collector.of(meter)) >= seen + 4, what="readings after opening")
        opened = collector.of(meter)[-3:]
        assert opened[-1].register > closed[-1].register and all(r.rate for r in opened)

        send(broker, region, meter, command("slow-1", Action.SET_INTERVAL, seconds=7200))
        assert wait_until(lambda: collector.ack("slow-1"), what="interval ack").detail \
            == "interval set to 7200s"
        time.sleep(0.5)
        quiet = len(collector.of(meter))
        time.sleep(1.0)
        assert len(collector.of(meter)) == quiet  # the next reading is 12 s (2 h) away

        bad = f'{{"id": "bad-1", "action": "set_interval", "args": {{"seconds": 0}},' \
              f' "issued_at": {time.time()}, "expires_at": {time.time() + 60}}}'
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"fog-{region}-bad")
        c.connect(broker.host, broker.port)
        c.loop_start()
        c.publish(topics.command(region, meter), bad, qos=1).wait_for_publish(5)
        c.loop_stop()
        c.disconnect()
        assert wait_until(lambda: collector.ack("bad-1"), what="reject ack").outcome.value \
            == "rejected"

        sim.stop()
        summary = sim.summary()
        assert summary["commands"] == {"applied": 3, "duplicate": 2, "rejected": 1}
        if mode == "per-meter":
            wait_until(lambda: collector.statuses.get(meter) == "offline", what="offline")
    finally:
        sim.ensure_stopped()
        collector.close()


def test_a_command_sent_while_the_meter_is_away_is_obeyed_when_it_returns(
        tmp_path: Path, region: str, session_broker: Service) -> None:
    broker = session_broker
    meter = f"{region}-e000001"
    collector = Collector(broker.host, broker.port, region)
    args = ("--count", "1", "--interval", "0.2")
    sim = Simulator(tmp_path, broker.host, broker.port, region, *args).start()
    try:
        wait_until(lambda: collector.statuses.get(meter) == "online", what="online")
        sim.stop()
        send(broker, region, meter, command("away-1", Action.CLOSE_VALVE))
        sim.start()
        ack = wait_until(lambda: collector.ack("away-1"), what="ack after returning")
        assert ack.outcome.value == "applied"
        sim.stop()
        sim.start()  # the valve stays closed across a restart
        send(broker, region, meter, command("away-1", Action.CLOSE_VALVE))
        wait_until(lambda: collector.ack("away-1", "duplicate"), what="duplicate after restart")
        seen = len(collector.of(meter))
        wait_until(lambda: len(collector.of(meter)) >= seen + 4, what="readings")
        assert all(r.rate == 0 for r in collector.of(meter)[-3:])
    finally:
        sim.ensure_stopped()
        collector.close()
