"""The replay window: acknowledged packs kept for a while, measured back from the
connection's last acknowledgement, bounded, and put back - whole, as they were sent - at
the front of the backlog after a reconnect (never on a run's first connect) and across a
clean stop."""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace

import paho.mqtt.client as mqtt
import pytest

from meter.connection import BrokerSettings, Connection, Events, Identity, Pack
from meter.fleet import Fleet
from meter.ioloop import IoLoop
from meter.journal import WINDOW_FILE, Journal
from meter.model import SimulatedMeter
from meter.progress import Progress
from meter.replay import ReplayWindow
from meter.runner import Runner
from meter.simclock import SimClock
from nevoa_core import topics
from nevoa_core.kinds import Kind
from nevoa_core.senml import Reading, decode_pack, encode_pack
from tests.unit.journal_support import drain

IDS = ["r1-e000001", "r1-e000002", "r1-e000003"]


def reading(seq: int, meter: str = IDS[0], rate: float | None = 1.5) -> Reading:
    return Reading(meter, seq, 1_763_600_000.0 + seq, Kind.ELECTRICITY, 100.0 + seq, rate)


def seqs(readings: list[Reading]) -> list[int]:
    return [r.seq for r in readings]


def flat(packs: list[list[Reading]]) -> list[int]:
    return [r.seq for pack in packs for r in pack]


# -- the ring ------------------------------------------------------------------------------
def test_the_window_keeps_what_was_acknowledged_lately_and_prunes_the_rest() -> None:
    w = ReplayWindow(30.0)
    for seq in range(1, 11):  # one reading every 5 s
        w.record(0, [reading(seq)], now=5.0 * seq)
    w.prune()  # last ack at 50 s: keep what was acknowledged from 20 s on
    assert w.held(0) == 7
    assert w.take(0) == [[reading(s)] for s in range(4, 11)], "pack by pack"
    assert w.take(0) == [] and len(w) == 0, "taken readings leave the window"


def test_the_window_is_measured_from_the_last_acknowledgement_not_the_clock() -> None:
    # a broker that dies stops acknowledging; noticing it may take a keepalive (90 s):
    # what it had acknowledged lately must still be there, however long that took
    w = ReplayWindow(30.0)
    for seq in range(1, 5):
        w.record(0, [reading(seq)], now=100.0 + seq)
    for _ in range(10):
        w.prune()  # no acknowledgement since: nothing gets old
    assert flat(w.take(0)) == [1, 2, 3, 4]


def test_meters_sharing_a_connection_share_its_clock() -> None:
    w = ReplayWindow(30.0)
    w.share([0, 0, 1])  # meters 0 and 1 on a gateway, meter 2 on a connection of its own
    w.record(0, [reading(1)], now=0.0)  # a meter that reads rarely
    w.record(2, [reading(1, IDS[2])], now=0.0)
    for t in range(1, 101):
        w.record(1, [reading(t, IDS[1])], now=float(t))
    w.prune()
    assert w.held(0) == 0, "the gateway was acknowledging long after: surely saved"
    assert w.held(1) == 31  # 70..100 s
    assert w.held(2) == 1, "a meter with its own connection keeps at least its last pack"


def test_a_meter_keeps_at_most_per_meter_readings_dropping_whole_packs() -> None:
    w = ReplayWindow(3600.0, per_meter=10)
    for first in (1, 5, 9):  # backlog packs of 4
        w.record(0, [reading(s) for s in range(first, first + 4)], now=float(first))
    assert w.held(0) == 8 and flat(w.take(0)) == list(range(5, 13)), "the oldest pack went"
    w.record(0, [reading(s) for s in range(1, 31)], now=1.0)  # one pack above the cap
    assert w.held(0) == 30, "a pack is never cut: it is replayed as it was sent"


def test_taken_packs_come_in_seq_order() -> None:
    w = ReplayWindow(30.0)
    w.record(0, [reading(3)], now=1.0)  # PUBACKs out of order
    w.record(0, [reading(1), reading(2)], now=2.0)
    assert w.take(0) == [[reading(1), reading(2)], [reading(3)]]


def test_a_window_of_zero_keeps_nothing() -> None:
    w = ReplayWindow(0.0)
    w.record(0, [reading(1)], now=1.0)
    assert not w.enabled and len(w) == 0 and w.take(0) == []
    with pytest.raises(ValueError):
        ReplayWindow(-1.0)


# -- the backlog's front ------------------------------------------------------------------
def journal(path: Path) -> Journal:
    return Journal(path, 10_000, IDS, [Kind.ELECTRICITY] * len(IDS))


def test_put_back_readings_go_before_the_disk_and_memory(tmp_path: Path) -> None:
    j = journal(tmp_path)
    for seq in range(21, 81):
        j.add(0, reading(seq), now=0.0)
    j.tick(0.0, lambda _m: False)  # 21..80 on disk
    j.add(0, reading(81), now=1.0)  # 81 in memory
    j.put_back(0, [[reading(s)] for s in range(1, 11)]  # 1..20 were acknowledged
               + [[reading(s) for s in range(11, 21)]])
    assert j.count(0) == 61, "acknowledged readings are not under --buffer-limit"
    assert j.total() == 81 and 0 in j.sendable
    assert seqs(drain(j, 0)) == list(range(1, 82))


def test_put_back_goes_before_readings_already_waiting(tmp_path: Path) -> None:
    j = journal(tmp_path)
    for seq in range(11, 16):
        j.add(0, reading(seq), now=0.0)
    j.tick(0.0, lambda _m: False)
    j.tick(10.0, lambda _m: True)  # 11..15 replayed from disk, waiting
    j.put_back(0, [[reading(s) for s in range(1, 6)], [reading(s) for s in range(6, 11)]])
    packs = [j.take(0, 100) for _ in range(3)]
    assert [seqs(p) for p in packs] == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12, 13, 14, 15]]
    assert not j.has(0) and not j.sendable


def test_put_back_packs_come_whole_whatever_the_pack_size(tmp_path: Path) -> None:
    j = journal(tmp_path)
    j.put_back(0, [[reading(s) for s in range(1, 11)]])
    assert seqs(j.take(0, 3)) == list(range(1, 11))


# -- the fleet: reconnects, packs, stops ---------------------------------------------------
class FakeOutlet:
    def __init__(self, window: int = 10) -> None:
        self.connected = False
        self.window = window
        self.inflight: list[Pack] = []
        self.sent: list[tuple[str, bytes, Pack]] = []

    def can_send(self) -> bool:
        return self.connected and len(self.inflight) < self.window

    def send(self, topic: str, payload: bytes, pack: Pack) -> None:
        self.sent.append((topic, payload, pack))
        self.inflight.append(pack)

    def send_untracked(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        pass


def fleet(tmp_path: Path, outlets: list[FakeOutlet], window: float = 30.0,
          pack_size: int = 100) -> Fleet:
    meters = [SimulatedMeter(m, Kind.ELECTRICITY) for m in IDS]
    f = Fleet("r1", meters, journal(tmp_path), pack_size=pack_size,
              replay=ReplayWindow(window))
    f.connect(outlets)
    return f


def acknowledge_all(f: Fleet, outlet: FakeOutlet) -> None:
    while outlet.inflight:
        f.acknowledged(outlet.inflight.pop(0))


def live(f: Fleet, i: int, seqs_: range, now: float = 0.0) -> None:
    for seq in seqs_:
        f._route(i, reading(seq, IDS[i]), now)


def test_a_reconnect_replays_the_window_first_in_backlog_packs(tmp_path: Path) -> None:
    out = FakeOutlet()
    f = fleet(tmp_path, [out, FakeOutlet(), FakeOutlet()])
    out.connected = True
    assert f.outlet_up(out) == 0  # the run's first connect replays nothing
    live(f, 0, range(1, 6))
    acknowledge_all(f, out)
    live(f, 0, range(6, 8))  # 6 and 7 in flight when the connection drops
    out.connected = False
    live(f, 0, range(8, 10))  # 8 and 9 wait in the backlog
    in_flight = list(out.inflight)
    first_time = [payload for _, payload, _ in out.sent[:5]]
    out.sent.clear()
    out.connected = True
    assert f.outlet_up(out, again=True) == 5 and f.counters.replayed == 5
    f.flush_backlogs(100)
    assert [payload for _, payload, _ in out.sent[:5]] == first_time, "the same messages"
    assert all(topic == topics.reading("r1", IDS[0]) for topic, _, _ in out.sent)
    assert [seqs(p.readings) for _, _, p in out.sent] == [[1], [2], [3], [4], [5], [8, 9]]
    _, payload, pack = out.sent[-1]  # then the backlog, in one pack
    assert payload == encode_pack(IDS[0], pack.readings)
    assert [seqs(p.readings) for p in in_flight] == [[6], [7]]  # paho sends those again


def test_a_replayed_backlog_pack_is_the_message_it_was(tmp_path: Path) -> None:
    # times 0.1 s apart: regrouped under another base time, a reading could decode a
    # rounding error away from what the fog stored the first time
    out = FakeOutlet()
    f = fleet(tmp_path, [out, FakeOutlet(), FakeOutlet()], pack_size=4)
    odd = [Reading(IDS[0], s, 1_796_150_186.61 + round(0.171 * s, 3), Kind.ELECTRICITY,
                   19_088.963, 505.6) for s in range(1, 11)]
    for r in odd:
        f.journal.add(0, r, now=0.0)
    out.connected = True
    f.outlet_up(out)
    f.flush_backlogs(100)
    acknowledge_all(f, out)
    first_time = [payload for _, payload, _ in out.sent]
    decoded = [r for p in first_time for r in decode_pack(p, IDS[0])]
    out.sent.clear()
    f.outlet_up(out, again=True)
    f.flush_backlogs(100)
    assert [payload for _, payload, _ in out.sent] == first_time
    assert [r for _, p, _ in out.sent for r in decode_pack(p, IDS[0])] == decoded
    assert decoded[0] == odd[0] and len(first_time) == 3


def test_replayed_packs_come_before_the_backlog(tmp_path: Path) -> None:
    out = FakeOutlet()
    f = fleet(tmp_path, [out, FakeOutlet(), FakeOutlet()], pack_size=3)
    out.connected = True
    live(f, 0, range(1, 6))
    acknowledge_all(f, out)
    out.connected = False
    live(f, 0, range(6, 9))
    out.connected = True
    f.outlet_up(out, again=True)
    f.flush_backlogs(100)
    assert [seqs(p.readings) for _, _, p in out.sent[5:]] == [[1], [2], [3], [4], [5],
                                                              [6, 7, 8]]


def test_readings_acknowledged_again_come_back_to_the_window(tmp_path: Path) -> None:
    out = FakeOutlet()
    f = fleet(tmp_path, [out, FakeOutlet(), FakeOutlet()])
    out.connected = True
    live(f, 0, range(1, 4))
    acknowledge_all(f, out)
    for _ in range(2):  # two crashes in a row: the second must replay them too
        f.outlet_up(out, again=True)
        f.flush_backlogs(100)
        acknowledge_all(f, out)
    assert f.counters.replayed == 6 and f.replay.held(0) == 3


def test_a_gateway_reconnect_replays_every_meter_it_carries(tmp_path: Path) -> None:
    gateway = FakeOutlet(window=1000)
    f = fleet(tmp_path, [gateway] * 3)
    gateway.connected = True
    for i in range(3):
        live(f, i, range(1, 3 + i))
    acknowledge_all(f, gateway)
    gateway.sent.clear()
    assert f.outlet_up(gateway, again=True) == 2 + 3 + 4
    f.flush_backlogs(100)
    assert sorted((p.meter, *seqs(p.readings)) for _, _, p in gateway.sent) == [
        (i, s) for i in range(3) for s in range(1, 3 + i)]


def test_without_a_window_nothing_is_kept_or_replayed(tmp_path: Path) -> None:
    out = FakeOutlet()
    f = fleet(tmp_path, [out, FakeOutlet(), FakeOutlet()], window=0.0)
    out.connected = True
    live(f, 0, range(1, 4))
    acknowledge_all(f, out)
    assert f.outlet_up(out, again=True) == 0 and not f.journal.has(0)


@pytest.mark.parametrize("reconnected", [False, True])
def test_a_clean_stop_saves_the_window_for_the_next_run_to_send_first(
        tmp_path: Path, reconnected: bool) -> None:
    out = FakeOutlet()
    f = fleet(tmp_path, [out, FakeOutlet(), FakeOutlet()])
    out.connected = True
    live(f, 0, range(1, 6))
    acknowledge_all(f, out)  # 1..5 acknowledged: in the window
    live(f, 0, range(6, 8))  # 6, 7 in flight at the stop
    out.connected = False
    live(f, 0, range(8, 10))  # 8, 9 in memory
    if reconnected:  # 1..5 put back, and the fleet stops before it sends them
        out.connected = True
        f.outlet_up(out, again=True)
    assert f.close_backlogs(out.inflight) == (2, 0 if reconnected else 5)
    assert f.journal.total() == 4, "acknowledged readings are not counted as waiting"
    assert (tmp_path / WINDOW_FILE).exists()
    again = journal(tmp_path)
    assert again.total() == 9 and again.count(0) == 4
    assert [again.take(0, 100) for _ in range(5)] == [[reading(s)] for s in range(1, 6)]
    assert seqs(drain(again, 0)) == [6, 7, 8, 9]
    # the file stays until the next clean stop replaces it (an empty window: removed)
    again.close({})
    assert not (tmp_path / WINDOW_FILE).exists()


# -- first connect or reconnect: from the MQTT callback to the fleet -----------------------
def test_only_a_reconnect_replays(tmp_path: Path) -> None:
    meters = [SimulatedMeter(IDS[0], Kind.ELECTRICITY)]
    f = Fleet("r1", meters, Journal(tmp_path, 100, IDS[:1], [Kind.ELECTRICITY]),
              replay=ReplayWindow(30.0))
    loop = IoLoop()
    runner = Runner(f, [], loop, SimClock(1_763_600_000.0, 1.0), Progress("t"), 0)
    events = Events(runner.acknowledged, runner.command, runner.connection_up,
                    runner.connection_down)
    c = Connection(Identity(IDS[0], will_topic=topics.status("r1", IDS[0])),
                   BrokerSettings("127.0.0.1", 1), 10, events, loop, random.Random(1))
    runner.connections = [c]
    f.connect([c])
    ok = SimpleNamespace(is_failure=False)

    def connack(session_present: bool) -> None:
        c._on_connect(c.client, None, mqtt.ConnectFlags(session_present), ok, None)

    try:
        connack(False)
        assert c.connects == 1 and f.counters.replayed == 0
        runner.acknowledged(Pack(0, [reading(1), reading(2)]))
        c.connected = False
        runner.connected -= 1
        connack(True)
        assert c.connects == 2 and c.session_present
        assert f.counters.replayed == 2 and f.journal.take(0, 100) == [reading(1), reading(2)]
    finally:
        loop.close()
