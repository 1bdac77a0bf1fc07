"""``nevoa-meter``: run a fleet of simulated meters of one region."""

from __future__ import annotations

import argparse
import logging
import random
import sys
import threading
from pathlib import Path

from meter.fleet import Fleet, FleetState
from meter.link import LinkConfig, MqttLink
from meter.model import SeedConsumption, SimulatedMeter
from nevoa_adapters.cli import add_logging_flag, env, env_int, setup_logging, stop_event_on_signals
from nevoa_core.ids import InvalidId, check_id, meter_id
from nevoa_core.kinds import Kind

log = logging.getLogger("nevoa.meter")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nevoa-meter",
        description="Simulate a fleet of smart meters of one region, publishing SenML "
        "readings (QoS 1) to the region's MQTT broker. Meter ids are "
        "<region>-<kind letter><6-digit index>, e.g. r1-e000001.",
    )
    p.add_argument("--region", default=env("REGION"), help="region id (env NEVOA_REGION)")
    p.add_argument("--broker-host", default=env("BROKER_HOST", "127.0.0.1"),
                   help="MQTT broker host (env NEVOA_BROKER_HOST; default %(default)s)")
    p.add_argument("--broker-port", type=int, default=env_int("BROKER_PORT", 1883),
                   help="MQTT broker port (env NEVOA_BROKER_PORT; default %(default)s)")
    p.add_argument("--username", default=env("MQTT_USERNAME"), help="broker account")
    p.add_argument("--password", default=env("MQTT_PASSWORD"), help="broker password")
    p.add_argument("--count", type=int, default=env_int("METER_COUNT", 100),
                   help="meters in this process (env NEVOA_METER_COUNT; default %(default)s)")
    p.add_argument("--first-index", type=int, default=env_int("FIRST_INDEX", 1),
                   help="index of the first meter (env NEVOA_FIRST_INDEX; default %(default)s)")
    p.add_argument("--kind", default=env("KIND", "electricity"),
                   choices=[k.label for k in Kind], help="meter kind (default %(default)s)")
    p.add_argument("--interval", type=float, default=float(env("INTERVAL", "15") or 15),
                   help="seconds between readings (env NEVOA_INTERVAL; default %(default)s)")
    p.add_argument("--seed", type=int, default=None, help="random seed for a reproducible run")
    p.add_argument("--state-file", type=Path, default=env("STATE_FILE"),
                   help="where seq and registers persist across restarts (env NEVOA_STATE_FILE)")
    add_logging_flag(p)
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    a = p.parse_args(argv)
    try:
        region = check_id(a.region, "region")
    except InvalidId as exc:
        p.error(f"{exc} (--region or NEVOA_REGION)")
    if a.count < 1 or a.first_index < 0 or a.interval <= 0:
        p.error("--count must be >= 1, --first-index >= 0 and --interval > 0")
    setup_logging(a.log_level, f"meter[{region}]")
    kind = Kind.from_label(a.kind)
    rng = random.Random(a.seed)
    meters = [
        SimulatedMeter(meter_id(region, kind.spec.letter, i), kind, SeedConsumption(),
                       rng=random.Random(rng.random()))
        for i in range(a.first_index, a.first_index + a.count)
    ]
    state = FleetState(a.state_file) if a.state_file else None
    if state:
        state.load(meters)
    first = meters[0].meter_id
    link = MqttLink(LinkConfig(a.broker_host, a.broker_port,
                               client_id=f"nevoa-meters-{first}-{a.count}",
                               username=a.username, password=a.password))
    stop = stop_event_on_signals()
    link.start()
    fleet = Fleet(region, meters, a.interval, link.publish, rng=rng)
    runner = threading.Thread(target=fleet.run, args=(stop,), name="fleet", daemon=True)
    runner.start()
    log.info("%d %s meters (%s..%s) publishing every %ss to %s:%d", a.count, kind.label,
             first, meters[-1].meter_id, a.interval, a.broker_host, a.broker_port)
    while not stop.wait(5.0):
        if state:
            state.save(meters)
        log.info("published %d readings, %d awaiting broker acknowledgement",
                 fleet.counters.published, link.outstanding())
    runner.join(timeout=2)
    link.stop()
    if state:
        state.save(meters)
    log.info("stopped after %d readings", fleet.counters.published)
    return 0


if __name__ == "__main__":
    sys.exit(main())
