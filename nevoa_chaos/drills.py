"""The drills, by name, and running a list of them."""

from __future__ import annotations

import shutil
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from nevoa_chaos import faults, hostile
from nevoa_chaos.broker import BrokerProfile
from nevoa_chaos.drill import DrillOptions, DrillResult, FaultFunction, run_stream_drill
from nevoa_chaos.meter_drill import meter_kill_during_replay

STORM_CONNECTIONS = 5000


@dataclass(frozen=True, slots=True)
class Drill:
    name: str
    summary: str
    run: Callable[[DrillOptions], DrillResult]
    default: bool = True  # in the suite; False: only when named (--drill)


def _stream(name: str, fault: FaultFunction, profile: BrokerProfile = BrokerProfile.DEV,
            meters: int | None = None, per_meter_connections: bool = False,
            broker_saved_first: bool = False, accounts: bool = False,
            ) -> Callable[[DrillOptions], DrillResult]:
    def run(options: DrillOptions) -> DrillResult:
        return run_stream_drill(name, options, fault, profile=profile, meters=meters,
                                per_meter_connections=per_meter_connections,
                                broker_saved_first=broker_saved_first, accounts=accounts)
    return run


DRILLS: dict[str, Drill] = {d.name: d for d in [
    Drill("fog-kill-9", "kill -9 the fog node 5 times mid-stream, restart it each time",
          _stream("fog-kill-9", faults.fog_kill_9)),
    Drill("redis-kill-9", "kill -9 Redis 5 times (1 s down), restart on its port and AOF",
          _stream("redis-kill-9", faults.redis_kill_9)),
    Drill("redis-oom-30s", "Redis maxmemory just above used memory for 30 s, then restored",
          _stream("redis-oom-30s", faults.redis_oom)),
    Drill("broker-kill-9-dev", "kill -9 Mosquitto 3 times (broker/mosquitto-dev.conf settings)",
          _stream("broker-kill-9-dev", faults.broker_kill_9, broker_saved_first=True)),
    Drill("broker-kill-9-compose",
          "kill -9 Mosquitto 3 times (broker/mosquitto.conf persistence settings)",
          _stream("broker-kill-9-compose", faults.broker_kill_9,
                  profile=BrokerProfile.COMPOSE, broker_saved_first=True)),
    Drill("broker-sigstop-60s", "SIGSTOP Mosquitto for 60 s, then SIGCONT",
          _stream("broker-sigstop-60s", faults.broker_sigstop)),
    Drill("fog-sigstop-60s", "SIGSTOP the fog node for 60 s, then SIGCONT",
          _stream("fog-sigstop-60s", faults.fog_sigstop)),
    Drill("meter-kill-9-during-replay",
          "the project's meters buffer through a broker outage; kill -9 during their replay",
          meter_kill_during_replay),
    Drill("reconnect-storm-5000",
          f"{STORM_CONNECTIONS:,} per-meter connections dropped at once, all reconnecting",
          _stream("reconnect-storm-5000", faults.reconnect_storm, meters=STORM_CONNECTIONS,
                  per_meter_connections=True)),
    Drill("poison-pack", "hostile packs of another meter inside a busy stream",
          _stream("poison-pack", hostile.poison_pack)),
    Drill("session-takeover",
          "a meter's account asks for the fog's client id mid-stream (compose accounts, ACLs)",
          _stream("session-takeover", hostile.session_takeover,
                  profile=BrokerProfile.COMPOSE, accounts=True)),
    # Not in the suite: the dev broker has no accounts, so no meter can reach it, and any
    # local process is trusted; this shows what an anonymous broker allows (it loses).
    Drill("session-takeover-anonymous",
          "an anonymous client takes the fog's client id on the dev broker (only when named)",
          _stream("session-takeover-anonymous", hostile.session_takeover), default=False),
]}

def quick(options: DrillOptions) -> DrillOptions:
    """Fewer and shorter faults: 2 kills, 10 s of OOM or SIGSTOP (unless already set)."""
    return replace(options, kills=options.kills or 2,
                   fault_seconds=options.fault_seconds or 10.0)


DATA_DIRS = ("appendonlydir", "data", "meter-state", "accounts")  # not the logs


def prune(workdir: Path) -> None:
    """Remove a passed drill's data (Redis AOF, Mosquitto database, meter state,
    generated accounts); its logs and configuration stay. A failed drill keeps all."""
    for name in DATA_DIRS:
        for found in list(workdir.rglob(name)):
            if found.is_dir():
                shutil.rmtree(found, ignore_errors=True)


def run_drill(name: str, options: DrillOptions) -> DrillResult:
    """Run one drill; a drill that breaks is a failed result, not an exception."""
    began = time.monotonic()
    options.report(f"== {name}: {DRILLS[name].summary}")
    try:
        result = DRILLS[name].run(options)
    except Exception as exc:
        options.report(traceback.format_exc().rstrip())
        result = DrillResult(name, options.readings, None, 0, 0, None, None,
                             failures=[f"the drill broke: {exc!r}"],
                             seconds=round(time.monotonic() - began, 1))
    if result.passed:
        prune(options.workdir / name)
    options.report(f"== {name}: {'passed' if result.passed else 'FAILED'} "
                   f"(acknowledged {result.acknowledged}, lost {result.lost:,}, duplicated "
                   f"{result.duplicated:,}, recovery {result.recovery_s}) in {result.seconds}s")
    return result


def run_drills(names: Sequence[str], options: DrillOptions) -> list[DrillResult]:
    unknown = [n for n in names if n not in DRILLS]
    if unknown:
        raise KeyError(f"unknown drills {unknown}; known: {', '.join(DRILLS)}")
    return [run_drill(name, options) for name in names]
