"""One drill: a fresh region, a known workload, one fault while readings flow, the count.

:func:`run_stream_drill` starts a :class:`~nevoa_chaos.stack.DrillStack`, publishes the
workload with a :class:`~nevoa_chaos.publisher.RecordingPublisher`, lets the drill's
fault function inject its fault (and say when it ended), waits for the region to catch
up, and counts by (meter, seq): **lost** = acknowledged by the broker, not stored;
**duplicated** = stored more than once; consumption against the fog's rankings.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis

from fog_node.store import RegionStore
from nevoa_chaos.broker import BrokerProfile
from nevoa_chaos.count import Mismatch, consumption_mismatches, read_stored
from nevoa_chaos.monitor import Monitor
from nevoa_chaos.publisher import RecordingPublisher
from nevoa_chaos.stack import DrillStack
from nevoa_chaos.workload import KIND, Workload, build_workload


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True)
class DrillOptions:
    readings: int = 20_000  # per drill, distinct (meter, seq)
    meters: int = 200
    rate: float = 1_000.0  # readings released per second
    window: int = 1_000  # unacknowledged messages of the one publisher connection
    replay_window: float = 30.0  # seconds of acknowledged messages sent again on reconnect
    kills: int | None = None  # repeated faults; None: the drill's own count
    fault_seconds: float | None = None  # OOM and SIGSTOP length; None: the drill's own
    settle_timeout: float = 120.0  # seconds to wait for the region to catch up
    workdir: Path = Path(".nevoa/chaos/work")
    region: str = "r1"
    report: Callable[[str], None] = _stderr

    @property
    def per_meter(self) -> int:
        return max(1, -(-self.readings // self.meters))


@dataclass(slots=True)
class DrillResult:
    drill: str
    readings: int
    acknowledged: int | None
    lost: int
    duplicated: int
    recovery_s: float | None
    consumption_mismatches: int | None
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return (self.lost == 0 and self.duplicated == 0 and not self.failures
                and not self.consumption_mismatches)

    @property
    def note(self) -> str:
        return "; ".join([*self.failures, *self.notes])

    def as_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["passed"] = self.passed
        return body


@dataclass
class StreamRun:
    """What a fault function gets: the running drill."""

    name: str
    options: DrillOptions
    stack: DrillStack
    workload: Workload
    publisher: RecordingPublisher
    monitor: Monitor
    client: redis.Redis
    origin: float = field(default_factory=time.monotonic)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    checks: list[Callable[[StreamRun, DrillResult], None]] = field(default_factory=list)
    _store: RegionStore | None = None

    def say(self, message: str) -> None:
        self.options.report(f"  [{self.name} {time.monotonic() - self.origin:6.1f}s] {message}")

    def fog_stats(self) -> dict[str, Any]:
        if self._store is None:
            self._store = RegionStore(self.client, self.workload.region)
        try:
            return self._store.stats()
        except redis.RedisError:
            return {}

    def stored_count(self) -> int | None:
        stored = self.fog_stats().get("stored")
        return None if stored is None else int(stored)

    def wait_acked(self, fraction: float, timeout: float = 120.0) -> None:
        target = int(fraction * len(self.workload))
        deadline = time.monotonic() + timeout
        while self.publisher.acked < target:
            if time.monotonic() > deadline:
                self.notes.append(f"fault injected at {self.publisher.acked:,} acknowledged, "
                                  f"not {target:,} (timeout)")
                return
            time.sleep(0.02)

    def wait_fog_storing(self, timeout: float = 60.0) -> None:
        """Until the fog node stores readings (it is up and working): faults land mid-stream."""
        first = self.stored_count()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.stored_count()
            if now is not None and first is not None and now > first:
                return
            if first is None:
                first = now
            time.sleep(0.02)
        self.notes.append("a fault came while the fog node stored nothing")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


FaultFunction = Callable[[StreamRun], None]
GIVE_UP_AFTER = 20.0  # seconds without any progress: what is missing will not come


def wait_progressing(probe: Callable[[], tuple[bool, object]], timeout: float,
                     still_for: float = GIVE_UP_AFTER, every: float = 0.2) -> bool:
    """Until ``probe()`` says done; gives up after ``timeout`` or once its progress marker
    has not changed for ``still_for`` seconds. True when done."""
    deadline = time.monotonic() + timeout
    last: object = None
    since = time.monotonic()
    while time.monotonic() < deadline:
        done, marker = probe()
        if done:
            return True
        if marker != last:
            last, since = marker, time.monotonic()
        elif time.monotonic() - since >= still_for:
            return False
        time.sleep(every)
    return False


def fresh_workdir(options: DrillOptions, name: str) -> Path:
    workdir = options.workdir / name
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    return workdir


def _note_crash(run: StreamRun) -> None:
    crash = run.stack.fog_crashed()
    if crash and crash not in run.failures:
        run.failures.append(crash)
        run.say(crash)


def _ticker(run: StreamRun, stop: threading.Event) -> None:
    while not stop.wait(5.0):
        _note_crash(run)
        stored = run.stored_count()
        run.say(f"acknowledged {run.publisher.acked:,}/{len(run.workload):,}, "
                f"stored {'?' if stored is None else f'{stored:,}'}, "
                f"awaited {len(run.monitor.unstored):,}, connections "
                f"{run.publisher.connected():,}")


def run_stream_drill(name: str, options: DrillOptions, fault: FaultFunction, *,
                     profile: BrokerProfile = BrokerProfile.DEV, meters: int | None = None,
                     per_meter_connections: bool = False, broker_saved_first: bool = False,
                     accounts: bool = False) -> DrillResult:
    began = time.monotonic()
    workdir = fresh_workdir(options, name)
    stack = DrillStack(workdir, options.region, profile, accounts=accounts)
    meters = meters or options.meters
    workload = build_workload(options.region, meters, max(1, -(-options.readings // meters)))
    try:
        stack.start()
        if broker_saved_first:  # the fog's session is in Mosquitto's file, as in production
            waited = stack.wait_broker_saved(time.time())
            options.report(f"  [{name}] Mosquitto saved its database after {waited:.1f}s")
        ids = ([f"chaos-{m}" for m in workload.meters] if per_meter_connections
               else [f"chaos-publisher-{options.region}"])
        publisher = RecordingPublisher(
            stack.broker.host, stack.broker.port, ids, workload.message, len(workload),
            rate=options.rate, window=10 if per_meter_connections else options.window,
            replay_window=options.replay_window,
            connection_of=workload.meter_index if per_meter_connections else None,
            login=stack.login("gateway"))
        client = stack.redis_client()
        run = StreamRun(name, options, stack, workload, publisher, Monitor(client, workload,
                                                                           publisher), client)
        return _drive(run, fault, began)
    finally:
        stack.stop()


def _drive(run: StreamRun, fault: FaultFunction, began: float) -> DrillResult:
    options, publisher, monitor = run.options, run.publisher, run.monitor
    stop_ticker = threading.Event()
    ticker = threading.Thread(target=_ticker, args=(run, stop_ticker), daemon=True)
    run.say(f"{len(run.workload):,} readings of {len(run.workload.meters):,} meters at "
            f"{options.rate:,.0f}/s")
    publisher.start()
    monitor.start()
    ticker.start()
    try:
        fault(run)
        expected = len(run.workload) / options.rate if options.rate > 0 else 0
        if not publisher.wait_done(expected + options.settle_timeout):
            run.failures.append(f"stalled: {len(run.workload) - publisher.acked:,} readings "
                                "never acknowledged by the broker")
        waited = time.monotonic()

        def progress() -> tuple[bool, object]:
            stats = run.fog_stats()
            return monitor.caught_up(), (len(monitor.unstored), publisher.acked,
                                         stats.get("stored"), stats.get("duplicates"))

        if not wait_progressing(progress, options.settle_timeout):
            run.say(f"{len(monitor.unstored):,} acknowledged readings still not stored "
                    f"{time.monotonic() - waited:.0f}s after the stream (no progress for "
                    f"{GIVE_UP_AFTER:.0f}s or timeout)")
        _wait_quiet(run)
        _note_crash(run)
    finally:
        stop_ticker.set()
        publisher.stop()
        monitor.stop()
    if publisher.error is not None:
        run.failures.append(f"the publisher failed: {publisher.error!r}")
    return _count(run, began)


def _wait_quiet(run: StreamRun, quiet: float = 2.0, timeout: float = 30.0) -> None:
    """Until the fog's counters stop moving (redeliveries absorbed, nothing in flight)."""
    last, since = None, time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = run.fog_stats()
        now = (stats.get("stored"), stats.get("duplicates"), stats.get("rejected_total"))
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.2)


def _count(run: StreamRun, began: float) -> DrillResult:
    w = run.workload
    acked = run.publisher.acked_keys()
    stored = read_stored(run.client, w.region, w.blocks(), KIND)
    lost = sorted(k for k in acked if not stored.has(w.meters[w.meter_index(k)], w.seq(k)))
    mismatches: list[Mismatch] | None
    try:
        mismatches = consumption_mismatches(
            run.client, w.region, {m: stored.readings.get(m, []) for m in w.meters}, KIND)
    except redis.RedisError as exc:
        mismatches = None
        run.failures.append(f"consumption not checked: {exc}")
    faults = run.monitor.faults
    recoveries = [f.recovered_after for f in faults]
    recovery = None if not faults or None in recoveries else max(
        r for r in recoveries if r is not None)
    c, stats = run.publisher.counters, run.fog_stats()
    result = DrillResult(
        run.name, len(w), len(acked), len(lost), stored.duplicated(w.meters), recovery,
        None if mismatches is None else len(mismatches), run.failures, run.notes,
        details={**run.details,
                 "faults": [f.as_dict(run.origin) for f in faults],
                 "publisher": asdict(c), "fog_stats": stats,
                 "stored_readings": stored.total(),
                 "fog_starts": run.stack.fog_starts, "fog_sessions": run.stack.fog_sessions(),
                 "lost_sample": [(w.meters[w.meter_index(k)], w.seq(k)) for k in lost[:20]],
                 "consumption_sample": [asdict(m) for m in (mismatches or [])[:20]]})
    for check in run.checks:
        check(run, result)
    if c.replayed:
        result.notes.append(f"{c.replayed:,} replayed after {c.reconnects:,} reconnects")
    if stats.get("duplicates"):
        result.notes.append(f"fog absorbed {int(stats['duplicates']):,} redeliveries")
    result.seconds = round(time.monotonic() - began, 1)
    return result
