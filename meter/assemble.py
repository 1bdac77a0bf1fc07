"""Build a runnable simulation from a :class:`FleetConfig`: meters, state, connections."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from meter.config import FleetConfig, Mode
from meter.connection import BrokerSettings, Connection, Events, Identity, tls_context
from meter.draws import new_seed, stable_fraction
from meter.faults import Fault, rollover_start
from meter.fleet import Fleet
from meter.ioloop import IoLoop
from meter.journal import Journal
from meter.model import SimulatedMeter
from meter.physics import Physics, Profile, SeedConsumption
from meter.progress import Progress
from meter.replay import ReplayWindow
from meter.runner import Runner
from meter.simclock import SimClock
from meter.spec import assign_faults, assign_tendencies
from meter.state import CommandLog, MeterStateFile
from nevoa_core import topics
from nevoa_core.kinds import Kind

# a fresh meter is not new: its register starts somewhere in this range
INITIAL_REGISTER = {Kind.ELECTRICITY: 40_000.0, Kind.WATER: 4_000.0}


@dataclass
class Simulation:
    config: FleetConfig
    fleet: Fleet
    runner: Runner
    resumed: int


def build_meters(config: FleetConfig, key: bytes) -> list[SimulatedMeter]:
    ids = config.meter_ids
    profile: Profile = SeedConsumption() if config.profile == "seed" \
        else Physics(config.utc_offset)
    tendencies = assign_tendencies(ids, config.tendency_mix, config.tendency_overrides, key)
    faults = assign_faults(ids, config.faults, key)
    meters = []
    for meter_id, tendency, meter_faults in zip(ids, tendencies, faults, strict=True):
        if any(f.fault is Fault.ROLLOVER for f in meter_faults):
            register = rollover_start(config.kind, config.interval)
        elif config.profile == "seed":
            register = 0.0
        else:
            register = round(stable_fraction(key, meter_id + ":register")
                             * INITIAL_REGISTER[config.kind], 3)
        meters.append(SimulatedMeter(
            meter_id, config.kind, profile, register=register, tendency=tendency,
            household=stable_fraction(key, meter_id), interval=config.interval,
            faults=meter_faults, key=key))
    return meters


def _identities(config: FleetConfig, meters: list[SimulatedMeter]) -> list[Identity]:
    region = config.region
    if config.mode is Mode.MULTIPLEXED:
        first = meters[0].meter_id
        return [Identity(
            client_id=f"nevoa-gw-{first}-{config.count}", username=config.username,
            password=config.password,
            status_topics=[topics.status(region, m.meter_id) for m in meters],
            command_topics=[topics.command(region, m.meter_id) for m in meters])]
    identities = []
    for m in meters:
        user, password = config.credentials.get(m.meter_id, (m.meter_id, config.password))
        status = topics.status(region, m.meter_id)
        identities.append(Identity(m.meter_id, user, password, will_topic=status,
                                   status_topics=(status,),
                                   command_topics=(topics.command(region, m.meter_id),)))
    return identities


def build(config: FleetConfig) -> Simulation:
    key = new_seed(config.seed)
    meters = build_meters(config, key)
    state = MeterStateFile(config.state_dir / "meters.state")
    resumed = state.attach(meters)
    start = config.start if config.start is not None else time.time()
    latest = max((m.last_time for m in meters if m.last_time is not None), default=start)
    clock = SimClock(max(start, latest), config.speed)
    for m in meters:
        m.run_start = clock.start
    journal = Journal(config.state_dir / "buffer", config.buffer_limit,
                      [m.meter_id for m in meters], [m.kind for m in meters])
    fleet = Fleet(config.region, meters, journal, state,
                  CommandLog(config.state_dir / "commands.json"), config.pack_size,
                  ReplayWindow(config.replay_window))
    loop = IoLoop()
    runner = Runner(fleet, [], loop, clock, Progress(config.label), config.progress_every)
    events = Events(runner.acknowledged, runner.command, runner.connection_up,
                    runner.connection_down)
    broker = BrokerSettings(config.broker_host, config.broker_port, config.keepalive,
                            spread=config.connect_spread,
                            tls=tls_context(config.tls_ca) if config.tls_ca else None)
    rng = random.Random()
    connections = [Connection(identity, broker, config.connection_window, events, loop, rng)
                   for identity in _identities(config, meters)]
    runner.connections = connections
    fleet.connect(connections if config.mode is Mode.PER_METER
                  else [connections[0]] * len(meters))
    return Simulation(config, fleet, runner, resumed)
