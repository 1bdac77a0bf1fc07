"""What a fleet keeps on disk: backlogs (bounded, ordered) and state (seq never reused)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from meter import journal as journal_module
from meter.connection import Pack
from meter.fleet import Fleet
from meter.journal import PASS_EVERY, Journal
from meter.model import SimulatedMeter
from meter.obey import RecentCommands
from meter.physics import Tendency
from meter.replay import ReplayWindow
from meter.state import CommandLog, MeterStateFile
from nevoa_core.kinds import Kind
from nevoa_core.senml import Reading
from tests.unit.journal_support import drain

IDS = ["r1-e000001", "r1-e000002"]


def reading(seq: int, meter: str = "r1-e000001", rate: float | None = 1.5) -> Reading:
    return Reading(meter, seq, 1_763_600_000.0 + seq, Kind.ELECTRICITY, 100.0 + seq, rate)


def journal(path: Path, limit: int = 10_000) -> Journal:
    return Journal(path, limit, IDS, [Kind.ELECTRICITY] * 2)


def killed(j: Journal) -> None:
    """A kill -9: the OS closes the files (what was written is in them); nothing else."""
    for f in (j._wal, j._writer, j._reader):
        if f is not None:
            f.close()


def test_a_short_wait_stays_in_memory(tmp_path: Path) -> None:
    j = journal(tmp_path)
    for seq in range(1, 11):
        j.add(0, reading(seq), now=0.0)
    j.tick(1.0, lambda _m: True)
    assert not list(tmp_path.glob("seg-*")) and j.sendable == {0}
    assert [r.seq for r in j.take(0, 100)] == list(range(1, 11))
    assert not j.has(0) and not j.sendable


def test_an_outage_spills_to_disk_and_replays_in_order(tmp_path: Path) -> None:
    j = journal(tmp_path)
    for seq in range(1, 201):  # a long outage: spilled every SPILL_SECONDS
        j.add(0, reading(seq), now=float(seq))
        j.add(1, reading(seq, "r1-e000002", None), now=float(seq))
        j.tick(float(seq), lambda _m: False)
    assert j.on_disk[0] > 150 and not j.sendable
    assert j.count(0) == j.count(1) == 200 and j.total() == 400
    sent_0, sent_1 = drain(j, 0), drain(j, 1)
    assert [r.seq for r in sent_0] == list(range(1, 201))
    assert sent_1 == [reading(s, "r1-e000002", None) for s in range(1, 201)]
    assert list(tmp_path.glob("seg-*")), "kept until the broker acknowledges the readings"
    j.acknowledged(0, sent_0)
    j.acknowledged(1, sent_1)
    assert not list(tmp_path.glob("seg-*")), "replayed and acknowledged segments are deleted"


def test_a_kill_9_during_a_replay_replays_what_was_not_acknowledged_again(
        tmp_path: Path) -> None:
    """Readings taken from a segment are in memory only until the broker acknowledges
    them: the segment stays on disk until then, so a kill -9 loses none of them."""
    j = journal(tmp_path)
    for seq in range(1, 101):
        j.add(0, reading(seq), now=float(seq))
        j.tick(float(seq), lambda _m: False)
    sent = drain(j, 0)
    j.acknowledged(0, sent[:40])  # the rest is in flight when the process dies
    again = journal(tmp_path)  # the next start, after a kill -9 (nothing was closed)
    replayed = drain(again, 0)
    assert {r.seq for r in replayed} >= set(range(41, 101))


def test_new_readings_wait_behind_the_disk(tmp_path: Path) -> None:
    j = journal(tmp_path)
    for seq in range(1, 61):
        j.add(0, reading(seq), now=0.0)
    j.tick(0.0, lambda _m: False)  # 60 >= SPILL_READINGS: spilled
    j.add(0, reading(61), now=1.0)
    assert j.take(0, 100) == []  # the newest may not overtake the disk
    assert [r.seq for r in drain(j, 0, now=2.0)] == list(range(1, 62))


def test_a_disconnected_meter_keeps_its_lines_for_a_later_pass(tmp_path: Path) -> None:
    j = journal(tmp_path)
    for seq in range(1, 61):
        j.add(0, reading(seq), now=0.0)
        j.add(1, reading(seq, "r1-e000002"), now=0.0)
    j.tick(0.0, lambda _m: False)
    up = {0: True, 1: False}
    j.tick(100.0, lambda m: up[m])  # meter 0 replays; meter 1's lines are carried over
    j.tick(200.0, lambda m: up[m])
    assert [r.seq for r in j.take(0, 100)] == list(range(1, 61))
    assert j.on_disk == {1: 60} and j.take(1, 100) == []
    j.add(1, reading(61, "r1-e000002"), now=300.0)
    assert [r.seq for r in drain(j, 1, now=400.0)] == list(range(1, 62))


def test_a_full_backlog_drops_its_oldest_tenth(tmp_path: Path) -> None:
    j = journal(tmp_path, limit=100)
    for seq in range(1, 102):
        j.add(0, reading(seq), now=0.0)
        if seq == 70:
            j.tick(0.0, lambda _m: False)
    j.tick(0.0, lambda _m: False)
    assert j.dropped == 11 and j.count(0) == 90
    assert [r.seq for r in drain(j, 0)] == list(range(12, 102))


def test_a_clean_stop_keeps_everything_in_order_for_the_next_run(tmp_path: Path) -> None:
    j = journal(tmp_path)
    for seq in range(1, 121):
        j.add(0, reading(seq), now=0.0)
    j.tick(0.0, lambda _m: False)  # 1..120 on disk
    j.tick(10.0, lambda _m: True)  # replayed into memory
    in_flight = j.take(0, 30)  # 1..30 sent, never acknowledged
    for seq in range(121, 131):
        j.add(0, reading(seq), now=11.0)  # the newest, in memory
    j.close({0: in_flight})
    assert j.total() == 130  # what the summary reports as still waiting
    again = journal(tmp_path)
    assert again.count(0) == 130
    assert [r.seq for r in drain(again, 0)] == list(range(1, 131))


def test_a_clean_stop_in_the_middle_of_a_replay_pass(tmp_path: Path) -> None:
    j = journal(tmp_path)
    for seq in range(1, 301):
        j.add(0, reading(seq), now=float(seq))
        j.add(1, reading(seq, "r1-e000002"), now=float(seq))
        j.tick(float(seq), lambda _m: False)
    up = {0: True, 1: False}
    j.tick(1000.0, lambda m: up[m], budget=150)  # stop in the middle of the pass
    assert j.on_disk[0] > 0 and j.ready[0]
    j.close({})
    again = journal(tmp_path)
    assert [r.seq for r in drain(again, 0)] == list(range(1, 301))
    assert [r.seq for r in drain(again, 1)] == list(range(1, 301))


def meters() -> list[SimulatedMeter]:
    return [SimulatedMeter(f"r1-e00000{i}", Kind.ELECTRICITY, register=10.0 * i)
            for i in range(1, 4)]


def test_state_resumes_seq_register_clock_valve_and_command_settings(tmp_path: Path) -> None:
    state = MeterStateFile(tmp_path / "meters.state")
    fleet = meters()
    assert state.attach(fleet) == 0
    m = fleet[1]
    for t in range(5):
        m.read(1_763_600_000.0 + 15 * t)
        state.save(1, m)
    m.valve_open, m.interval, m.tendency = False, 60.0, Tendency.FAST
    state.save(1, m)
    state.close()

    again = meters()
    assert MeterStateFile(tmp_path / "meters.state").attach(again) == 3
    r = again[1]
    assert (r.seq, r.register, r.last_time) == (m.seq, m.register, m.last_time)
    assert (r.valve_open, r.interval, r.tendency) == (False, 60.0, Tendency.FAST)
    assert again[0].seq == 0 and again[0].register == 10.0

    changed = meters()
    for x in changed:
        x.interval = 5.0  # a new --interval wins over a command's
    MeterStateFile(tmp_path / "meters.state").attach(changed)
    assert changed[1].interval == 5.0 and changed[1].tendency is Tendency.FAST


def test_state_written_before_a_kill_9_is_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "meters.state"
    program = f"""
import os, signal
from pathlib import Path
from meter.model import SimulatedMeter
from meter.state import MeterStateFile
from nevoa_core.kinds import Kind
m = SimulatedMeter("r1-e000001", Kind.ELECTRICITY)
state = MeterStateFile(Path({str(path)!r}))
state.attach([m])
for t in range(1234):
    m.read(1_763_600_000.0 + t)
    state.save(0, m)
os.kill(os.getpid(), signal.SIGKILL)
"""
    done = subprocess.run([sys.executable, "-c", program], cwd=Path(__file__).parents[2],
                          check=False)
    assert done.returncode == -9
    m = SimulatedMeter("r1-e000001", Kind.ELECTRICITY)
    MeterStateFile(path).attach([m])
    assert m.seq == 1234


def test_command_ids_persist(tmp_path: Path) -> None:
    log = CommandLog(tmp_path / "commands.json")
    log.recent("r1-e000001").remember("c-1")
    log.save()
    recent: RecentCommands = CommandLog(tmp_path / "commands.json").recent("r1-e000001")
    assert "c-1" in recent and "c-2" not in recent


# -- a kill -9 of the whole process: the write-ahead files ----------------------------------
class Outlet:
    def __init__(self) -> None:
        self.connected = True
        self.inflight: list[Pack] = []

    def can_send(self) -> bool:
        return self.connected and len(self.inflight) < 10

    def send(self, topic: str, payload: bytes, pack: Pack) -> None:
        self.inflight.append(pack)

    def send_untracked(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        pass


def fleet_of_two(path: Path) -> tuple[Fleet, list[Outlet]]:
    meters = [SimulatedMeter(m, Kind.ELECTRICITY, interval=1.0) for m in IDS]
    f = Fleet("r1", meters, journal(path), replay=ReplayWindow(0.0))
    outlets = [Outlet(), Outlet()]
    f.connect(outlets)
    f.schedule(0.0)
    return f, outlets


def test_a_kill_9_loses_no_reading_in_flight_or_in_memory(tmp_path: Path) -> None:
    """Whatever was produced and not acknowledged comes back after a kill -9: readings
    sent live and in flight, readings waiting in memory (not yet spilled), readings sent
    from memory - in seq order per meter."""
    f, outlets = fleet_of_two(tmp_path)
    f.produce_due(5.5, 100)  # 1..5 (or 6) of each meter sent live
    for _ in range(3):
        f.acknowledged(outlets[0].inflight.pop(0))  # meter 0's first three acknowledged
    outlets[1].connected = False
    f.produce_due(8.5, 100)  # meter 0 fills its window; meter 1 waits in memory
    assert f.journal.memory and not list(tmp_path.glob("seg-*"))
    produced = [m.seq for m in f.meters]
    acked = {1, 2, 3}
    killed(f.journal)  # kill -9: nothing closed, a new journal on the same directory
    again = journal(tmp_path)
    sent_0, sent_1 = drain(again, 0), drain(again, 1)
    assert [r.seq for r in sent_1] == list(range(1, produced[1] + 1))
    assert {r.seq for r in sent_0} | acked == set(range(1, produced[0] + 1))
    seqs_0 = [r.seq for r in sent_0]
    assert seqs_0 == sorted(set(seqs_0)), "in seq order (acknowledged ones may come again)"


def test_a_kill_9_after_a_spill_keeps_the_order_disk_then_memory(tmp_path: Path) -> None:
    f, outlets = fleet_of_two(tmp_path)
    outlets[0].connected = outlets[1].connected = False
    base = time.monotonic()  # the fleet's clock for spilling
    for t in range(1, 13):  # an outage of 12 s: spilled every SPILL_SECONDS
        f.produce_due(float(t), 100)
        f.tend_backlogs(base + t)
    f.produce_due(14.0, 100)  # the newest wait in memory
    assert list(tmp_path.glob("seg-*")) and f.journal.memory
    produced = [m.seq for m in f.meters]
    killed(f.journal)
    again = journal(tmp_path)
    assert [r.seq for r in drain(again, 0)] == list(range(1, produced[0] + 1))
    assert [r.seq for r in drain(again, 1)] == list(range(1, produced[1] + 1))


def test_acknowledged_and_cleanly_stopped_readings_leave_no_write_ahead(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal_module, "WAL_COMPACT_READINGS", 10)
    f, outlets = fleet_of_two(tmp_path)
    f.produce_due(20.5, 1000)  # windows of 10: the rest waits in memory
    while any(o.inflight for o in outlets):
        for o in outlets:
            while o.inflight:
                f.acknowledged(o.inflight.pop(0))
        f.flush_backlogs(100)
    assert not f.journal._wal_of, "nothing open"
    f.produce_due(21.5, 1000)  # the file is compacted first: the acknowledged go
    after_kill = journal(tmp_path)
    assert [r.seq for r in drain(after_kill, 0)] == [f.meters[0].seq], \
        "after a kill -9, only what was not acknowledged"
    killed(after_kill)
    f.produce_due(25.5, 1000)  # in flight at a clean stop
    in_flight = [p for o in outlets for p in o.inflight]
    f.close_backlogs(in_flight)
    assert not list(tmp_path.glob("wal-*")), "a clean stop leaves segments only"
    again = journal(tmp_path)
    assert {r.seq for r in drain(again, 0)} == {r.seq for p in in_flight if p.meter == 0
                                                 for r in p.readings}


def test_after_a_kill_9_in_a_pass_a_pack_never_repeats_a_seq(tmp_path: Path) -> None:
    """A kill -9 during a pass leaves lines both in the segment being read (kept until
    acknowledged) and in the segment they were carried to: the next run must not put
    both copies in one pack - the fog rejects a pack whose seqs do not strictly increase,
    whole, after the broker acknowledged it."""
    j = journal(tmp_path)
    for seq in range(1, 61):
        j.add(0, reading(seq), now=0.0)
        j.add(1, reading(seq, "r1-e000002"), now=0.0)
    j.tick(0.0, lambda _m: False)  # both on disk
    up = {0: True, 1: False}
    j.tick(100.0, lambda m: up[m])  # meter 0 replays (not acknowledged), 1 is carried
    assert j.take(0, 100) and j.on_disk == {1: 60}
    killed(j)
    again = journal(tmp_path)
    assert again.count(1) == 120, "both copies on disk"
    packs: list[list[int]] = []
    now = 1000.0
    for _ in range(10):
        again.tick(now, lambda _m: True)
        now += PASS_EVERY
        while batch := again.take(1, 1000):
            packs.append([r.seq for r in batch])
    assert all(p == sorted(set(p)) for p in packs), packs
    assert sorted({s for p in packs for s in p}) == list(range(1, 61))
