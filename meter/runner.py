"""The simulator's one thread: connect, produce, flush, serve sockets, report, stop.

Stopping (SIGTERM, SIGINT, ``--duration``) takes at most ~1.5 s whatever the fleet
size: production stops at once; the packs in flight get up to :data:`DRAIN_SECONDS`
for their PUBACK; a meter's own connection is closed so that the broker publishes its
last will (``offline``); a multiplexed connection publishes ``offline`` on its meters'
status topics and, once those are acknowledged (up to :data:`CLOSE_SECONDS`),
disconnects; packs still
unacknowledged go back to the front of their meters' backlogs, to be sent first by the
next run; backlogs, the replay window and state reach disk.

After a *re*connect (not a run's first connect) the fleet puts what the connection's
meters had acknowledged within the replay window back at the front of their backlogs
(:mod:`meter.replay`): one log line per reconnect, info for a gateway, debug for a meter.
"""

from __future__ import annotations

import heapq
import logging
import sys
import threading
import time
from collections.abc import Sequence
from typing import TextIO

from meter.connection import Connection, Pack
from meter.fleet import Fleet
from meter.ioloop import IoLoop
from meter.progress import Progress, Snapshot
from meter.simclock import SimClock

log = logging.getLogger("nevoa.meter")

PRODUCE_BUDGET = 500  # readings per loop turn, so sockets are served in between
FLUSH_BUDGET = 200  # backlog packs per loop turn
CONGESTED_WAIT = 0.005  # seconds to wait for PUBACKs when every window is full
CONNECT_BUDGET_SECONDS = 0.05  # connection attempts per loop turn
SYNC_EVERY = 0.5
HOUSEKEEPING_EVERY = 1.0
DRAIN_SECONDS = 0.5
CLOSE_SECONDS = 0.8


class Runner:
    def __init__(self, fleet: Fleet, connections: Sequence[Connection], loop: IoLoop,
                 clock: SimClock, progress: Progress, progress_every: float = 10.0,
                 out: TextIO = sys.stderr) -> None:
        self.fleet = fleet
        self.connections = list(connections)
        self.loop = loop
        self.clock = clock
        self.progress = progress
        self.progress_every = progress_every
        self.out = out
        self.live = progress_every > 0 and out.isatty()
        self.connected = 0
        self._waiting: list[tuple[float, int, Connection]] = []
        self._tiebreak = 0
        self.stopping = False
        self.started = time.monotonic()
        self.all_connected_after: float | None = None  # seconds from start to all up
        self.run_seconds = 0.0  # from start to the end of the stop

    # -- connection events -------------------------------------------------------------
    def connection_up(self, c: Connection) -> None:
        self.connected += 1
        again = c.connects > 1
        replayed = self.fleet.outlet_up(c, again)
        if again and self.fleet.replay.enabled:
            log.log(logging.DEBUG if c.identity.will_topic else logging.INFO,
                    "%s: reconnected (session %s); replaying %d readings acknowledged in "
                    "the last %g s", c.identity.client_id,
                    "kept" if c.session_present else "lost", replayed,
                    self.fleet.replay.seconds)
        if self.connected == len(self.connections) and self.all_connected_after is None:
            self.all_connected_after = time.monotonic() - self.started

    def connection_down(self, c: Connection, was_up: bool) -> None:
        if was_up:
            self.connected -= 1
            if not self.stopping:
                self.fleet.counters.connections_lost += 1
        if not self.stopping:
            self._wait(c)

    def acknowledged(self, pack: Pack) -> None:
        self.fleet.acknowledged(pack)

    def command(self, topic: str, payload: bytes) -> None:
        self.fleet.on_command(topic, payload, self.clock.now())

    def _wait(self, c: Connection) -> None:
        self._tiebreak += 1
        heapq.heappush(self._waiting, (c.next_attempt, self._tiebreak, c))

    def _connect_due(self, now: float) -> None:
        spent_until = now + CONNECT_BUDGET_SECONDS
        while self._waiting and self._waiting[0][0] <= now:
            when, _, c = heapq.heappop(self._waiting)
            if c.connected or c.client.socket() is not None or when != c.next_attempt:
                continue  # up, connecting, or rescheduled since
            if not c.attempt(now):
                self.fleet.counters.connect_failures += 1
                self._wait(c)
            if time.monotonic() > spent_until:
                break

    # -- the loop ----------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        next_due = self.fleet.next_due()
        lag = max(0.0, (self.clock.now() - next_due) / self.clock.speed) if next_due else 0.0
        return Snapshot(self.fleet.counters, len(self.fleet.meters), self.connected,
                        len(self.connections), self.fleet.backlog_size(), self.clock.now(), lag)

    def _report(self) -> None:
        line = self.progress.line(self.snapshot())
        if self.live:
            self.out.write("\r" + line[:250].ljust(120))
            self.out.flush()
        else:
            log.info("%s", line)

    def run(self, stop: threading.Event, duration: float | None = None) -> Snapshot:
        """Simulate until ``stop`` is set or ``duration`` wall seconds passed."""
        start = self.started = time.monotonic()
        for c in self.connections:
            c.schedule_first(start)
            self._wait(c)
        self.clock.restart()  # the build took wall time: the run starts at --start
        self.fleet.schedule(self.clock.start)
        next_sync = next_house = start
        next_report = start + (1.0 if self.live else self.progress_every)
        deadline = start + duration if duration else None
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            now = time.monotonic()
            self._connect_due(now)
            # when connected meters already wait for room in their windows, making more
            # readings only grows the backlog: send first (the schedule falls behind, and
            # the progress line says so)
            congested = self.fleet.congested()
            produced = 0 if congested else self.fleet.produce_due(self.clock.now(),
                                                                  PRODUCE_BUDGET)
            flushed = self.fleet.flush_backlogs(FLUSH_BUDGET)
            if now >= next_sync:
                self.fleet.tend_backlogs(now)
                next_sync = now + SYNC_EVERY
            if now >= next_house:
                self.loop.housekeeping([c.client for c in self.connections])
                next_house = now + HOUSEKEEPING_EVERY
            if self.progress_every > 0 and now >= next_report:
                self._report()
                next_report = now + (1.0 if self.live else self.progress_every)
            if produced >= PRODUCE_BUDGET or flushed >= FLUSH_BUDGET:
                timeout = 0.0
            elif congested:
                timeout = CONGESTED_WAIT
            else:
                timeout = self._idle_timeout(now)
            self.loop.poll(timeout)
        final = self.shutdown()
        self.run_seconds = time.monotonic() - start
        return final

    def _idle_timeout(self, now: float) -> float:
        timeout = 0.1  # the stop flag is checked at least this often
        next_due = self.fleet.next_due()
        if next_due is not None:
            timeout = min(timeout, self.clock.wall_seconds_until(next_due))
        if self._waiting:
            timeout = min(timeout, self._waiting[0][0] - now)
        if self.fleet.has_sendable_backlog():
            timeout = 0.0
        return max(0.0, timeout)

    # -- stopping ----------------------------------------------------------------------
    def shutdown(self) -> Snapshot:
        self.stopping = True
        if self.live:
            self.out.write("\n")
        began = time.monotonic()
        deadline = began + DRAIN_SECONDS
        while time.monotonic() < deadline and any(c.inflight and c.connected
                                                  for c in self.connections):
            self.loop.poll(0.02)
        log.debug("stop: in-flight drained for %.2fs", time.monotonic() - began)
        gateways = [c for c in self.connections if not c.identity.will_topic]
        for c in self.connections:
            if c.identity.will_topic:
                c.drop()  # its last will says offline
            else:
                c.say_offline()
        deadline = time.monotonic() + CLOSE_SECONDS
        while time.monotonic() < deadline and any(c.farewells and c.connected
                                                  for c in gateways):
            self.loop.poll(0.02)
        for c in gateways:
            c.disconnect()
        while time.monotonic() < deadline + 0.2 and any(c.client.socket() for c in gateways):
            self.loop.poll(0.02)
        log.debug("stop: disconnected at %.2fs", time.monotonic() - began)
        unacked = [p for c in self.connections for p in c.inflight.values()]
        returned, window = self.fleet.close_backlogs(unacked)
        if returned:
            log.info("%d readings not yet acknowledged go back to the on-disk buffer", returned)
        if window:
            log.info("%d readings acknowledged in the last %g s saved, to be sent again by "
                     "the next run", window, self.fleet.replay.seconds)
        if self.fleet.state is not None:
            self.fleet.state.close()
        self.loop.close()
        log.debug("stop: state on disk at %.2fs", time.monotonic() - began)
        return self.snapshot()
