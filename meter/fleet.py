"""A fleet of simulated meters in one process: when each reads, and where readings go.

Meters wait in a heap ordered by their next simulated reading time, so ten thousand
meters cost one thread and no busy loop. Readings carry their *scheduled* simulated
time, not the moment the process got round to them, so a seeded run gives the same
readings however loaded the machine is. Each meter's first reading is placed at a
random point of its interval, so a fleet never publishes in lock step.

A reading goes straight to its connection when the meter has no backlog and the
connection can take it (connected, window not full); otherwise it joins the meter's
backlog (:mod:`meter.journal`), which is sent in order, many readings per pack. Either
way it is first written ahead (:meth:`meter.journal.Journal.write_ahead`, one write and
one flush per batch of readings made), so a ``kill -9`` before its PUBACK loses nothing.

Once acknowledged, a pack stays in the replay window (:mod:`meter.replay`) for a while:
after a *re*connect, what the connection's meters had acknowledged in the window goes
back to the front of their backlogs, pack by pack as it was sent, since a broker killed
before its autosave has forgotten it. A clean stop saves the window beside the journal,
for the next run.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import time
from collections.abc import Sequence
from typing import Protocol

from meter.connection import Pack
from meter.draws import Draws
from meter.faults import Fault
from meter.journal import Journal
from meter.model import SimulatedMeter
from meter.obey import handle_payload
from meter.progress import Counters
from meter.replay import ReplayWindow
from meter.state import CommandLog, MeterStateFile
from meter.wire import encode_reading
from nevoa_core import topics
from nevoa_core.commands import Outcome
from nevoa_core.senml import Reading, encode_pack

log = logging.getLogger("nevoa.meter.fleet")

CONGESTION = 1000  # connected meters waiting for room before production pauses
FLUSH_SCAN = 4000  # backlogged meters looked at per flush


class Outlet(Protocol):
    @property
    def connected(self) -> bool: ...
    def can_send(self) -> bool: ...
    def send(self, topic: str, payload: bytes, pack: Pack) -> None: ...
    def send_untracked(self, topic: str, payload: bytes | str, retain: bool = False) -> None: ...


class Fleet:
    def __init__(self, region: str, meters: Sequence[SimulatedMeter], journal: Journal,
                 state: MeterStateFile | None = None, commands: CommandLog | None = None,
                 pack_size: int = 100, replay: ReplayWindow | None = None) -> None:
        self.region = region
        self.meters = list(meters)
        self.index = {m.meter_id: i for i, m in enumerate(self.meters)}
        self.journal = journal
        self.state = state
        self.commands = commands if commands is not None else CommandLog()
        self.pack_size = pack_size
        self.replay = replay if replay is not None else ReplayWindow(0.0)
        self.counters = Counters()
        self.outlets: list[Outlet] = []
        self._meters_of: dict[int, list[int]] = {}
        self._flushable: set[int] = set()  # meters with sendable backlog, outlet connected
        self._due: list[tuple[float, int]] = []
        self._next_due = [0.0] * len(self.meters)
        journal.on_sendable = self._sendable

    def connect(self, outlets: Sequence[Outlet]) -> None:
        """The outlet (connection) of each meter, in fleet order."""
        self.outlets = list(outlets)
        for i, outlet in enumerate(self.outlets):
            self._meters_of.setdefault(id(outlet), []).append(i)
        numbers = {key: n for n, key in enumerate(self._meters_of)}
        self.replay.share([numbers[id(outlet)] for outlet in self.outlets])

    def outlet_up(self, outlet: Outlet, again: bool = False) -> int:
        """A connection is up: its meters' backlogs can be sent. When it is up ``again``
        (a reconnect), what the broker acknowledged within the replay window goes to the
        front of the backlogs first. How many readings that put back."""
        meters = self._meters_of.get(id(outlet), ())
        replayed = 0
        if again and self.replay.enabled:
            for i in meters:
                packs = self.replay.take(i)
                self.journal.put_back(i, packs)
                replayed += sum(len(p) for p in packs)
            self.counters.replayed += replayed
        sendable = self.journal.sendable
        self._flushable.update(i for i in meters if i in sendable)
        return replayed

    def _sendable(self, i: int) -> None:
        if self.outlets[i].connected:
            self._flushable.add(i)

    def is_connected(self, i: int) -> bool:
        return self.outlets[i].connected

    # -- schedule ----------------------------------------------------------------------
    def schedule(self, sim_now: float) -> None:
        """Place every meter's next reading: after its last one, else at a random (seeded)
        point of its first interval."""
        self._due = []
        for i, m in enumerate(self.meters):
            after_last = m.last_time + m.interval if m.last_time is not None else None
            if after_last is not None and after_last >= sim_now:
                due = after_last
            else:
                due = sim_now + Draws(m.key, m.meter_id, 0.0).uniform() * m.interval
            self._next_due[i] = due
            self._due.append((due, i))
        heapq.heapify(self._due)

    def _reschedule(self, i: int, sim_now: float) -> None:
        m = self.meters[i]
        base = m.last_time if m.last_time is not None else sim_now
        due = max(base + m.interval, sim_now)
        self._next_due[i] = due
        heapq.heappush(self._due, (due, i))

    def next_due(self) -> float | None:
        return self._due[0][0] if self._due else None

    def produce_due(self, sim_now: float, budget: int) -> int:
        """Make the readings due by ``sim_now`` (at most ``budget``); how many were due."""
        done = 0
        now = time.monotonic()
        due_heap, next_due = self._due, self._next_due
        made: list[tuple[int, Reading]] = []
        read: list[int] = []
        while due_heap and due_heap[0][0] <= sim_now and done < budget:
            due, i = heapq.heappop(due_heap)
            if due != next_due[i]:
                continue  # superseded by a new interval
            m = self.meters[i]
            reading = m.read(due)
            read.append(i)
            if reading is not None:
                made.append((i, reading))
            next_due[i] = due + m.interval
            heapq.heappush(due_heap, (next_due[i], i))
            done += 1
        # on disk before anything may leave or wait in memory (a kill -9 loses none of
        # them), then the seqs: never used twice
        self.journal.write_ahead(made)
        if self.state is not None:
            for i in read:
                self.state.save(i, self.meters[i])
        self.counters.produced += len(made)
        for i, reading in made:
            self._route(i, reading, now)
        return done

    # -- routing -----------------------------------------------------------------------
    def _route(self, i: int, reading: Reading, now: float) -> None:
        outlet = self.outlets[i]
        if not self.journal.has(i) and outlet.can_send():
            outlet.send(topics.reading(self.region, reading.meter), encode_reading(reading),
                        Pack(i, [reading]))
            self.counters.sent_live += 1
            return
        self.journal.add(i, reading, now)
        self.counters.buffered += 1

    def congested(self) -> bool:
        """Many connected meters have readings waiting for room in their windows."""
        return len(self._flushable) > CONGESTION

    def flush_backlogs(self, budget: int) -> int:
        """Send backlogged readings, oldest first, where connections allow; packs sent."""
        sent = 0
        shared = len(self._meters_of) == 1  # multiplexed: one window for all
        for i in list(itertools.islice(self._flushable, FLUSH_SCAN)):
            outlet = self.outlets[i]
            if not outlet.connected:
                self._flushable.discard(i)
                continue
            if shared and not outlet.can_send():
                break
            while sent < budget and outlet.can_send():
                readings = self.journal.take(i, self.pack_size)
                if not readings:
                    self._flushable.discard(i)
                    break
                meter_id = self.meters[i].meter_id
                payload = encode_reading(readings[0]) if len(readings) == 1 \
                    else encode_pack(meter_id, readings)
                outlet.send(topics.reading(self.region, meter_id), payload, Pack(i, readings))
                self.counters.sent_backlog += len(readings)
                self.counters.backlog_packs += 1
                sent += 1
            if sent >= budget:
                break
        return sent

    def has_sendable_backlog(self) -> bool:
        return any(self.outlets[i].can_send() for i in self._flushable)

    def backlog_size(self) -> int:
        return self.journal.total()

    def tend_backlogs(self, now: float) -> None:
        """Spill, bound and replay the backlogs; forget what left the replay window
        (every half second)."""
        self.journal.tick(now, self.is_connected)
        self.counters.dropped = self.journal.dropped
        self.replay.prune()

    def acknowledged(self, pack: Pack) -> None:
        self.counters.acknowledged += len(pack.readings)
        self.journal.acknowledged(pack.meter, pack.readings)
        self.replay.record(pack.meter, pack.readings, time.monotonic())

    def close_backlogs(self, unacknowledged: Sequence[Pack]) -> tuple[int, int]:
        """At a stop: everything not acknowledged goes to disk, in order, and so does the
        replay window (the broker may have died before saving it, and the next run may
        be the first to reconnect); how many readings were in flight, and in the window."""
        by_meter: dict[int, list[Reading]] = {}
        for pack in unacknowledged:
            by_meter.setdefault(pack.meter, []).extend(pack.readings)
        window = self.replay.take_all()
        saved = sum(len(p) for packs in window.values() for p in packs)
        self.journal.close(by_meter, window)
        return sum(len(r) for r in by_meter.values()), saved

    # -- commands ----------------------------------------------------------------------
    def on_command(self, topic: str, payload: bytes, sim_now: float) -> None:
        try:
            meter_id = topics.parse_meter_topic(topic).meter
        except topics.TopicError:
            self.counters.command_errors += 1
            return
        i = self.index.get(meter_id)
        if i is None:
            return  # another process's meter
        m = self.meters[i]
        if m.has_fault(Fault.SILENT, sim_now):
            return  # a silent meter answers nothing
        interval = m.interval
        ack = handle_payload(m, payload, time.time(), self.commands.recent(meter_id))
        if ack is None:
            self.counters.command_errors += 1
            log.warning("%s: undecodable command without an id ignored", meter_id)
            return
        if ack.outcome is Outcome.APPLIED:
            self.commands.save()
            if self.state is not None:
                self.state.save(i, m)
            if m.interval != interval:
                self._reschedule(i, sim_now)
        self.counters.commands[ack.outcome.value] += 1
        self.outlets[i].send_untracked(topics.command_ack(self.region, meter_id), ack.encode())
