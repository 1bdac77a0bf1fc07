"""What a fleet keeps on disk: backlogs (bounded, ordered) and state (seq never reused)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from meter.buffer import BufferStore
from meter.model import SimulatedMeter
from meter.obey import RecentCommands
from meter.physics import Tendency
from meter.state import CommandLog, MeterStateFile
from nevoa_core.kinds import Kind
from nevoa_core.senml import Reading


def reading(seq: int, rate: float | None = 1.5) -> Reading:
    return Reading("r1-e000001", seq, 1_763_600_000.0 + seq, Kind.ELECTRICITY, 100.0 + seq, rate)


def test_a_backlog_comes_back_in_order_in_packs(tmp_path: Path) -> None:
    store = BufferStore(tmp_path, limit=1000)
    b = store.open("r1-e000001", Kind.ELECTRICITY)
    for seq in range(1, 251):
        b.append(reading(seq, None if seq % 2 else 2.5))
    assert len(b) == 250
    packs = [b.take(100, store.limit) for _ in range(3)]
    assert [len(p) for p in packs] == [100, 100, 50]
    assert [r for p in packs for r in p] == [reading(s, None if s % 2 else 2.5)
                                           for s in range(1, 251)]
    assert len(b) == 0 and not store.path_of("r1-e000001").exists()


def test_new_readings_join_the_end_while_the_backlog_drains(tmp_path: Path) -> None:
    store = BufferStore(tmp_path, limit=1000)
    b = store.open("r1-e000001", Kind.ELECTRICITY)
    for seq in range(1, 11):
        b.append(reading(seq))
    first = b.take(4, store.limit)
    for seq in range(11, 15):
        b.append(reading(seq))
    rest = b.take(100, store.limit)
    assert [r.seq for r in first + rest] == list(range(1, 15))


def test_a_full_buffer_drops_its_oldest_tenth(tmp_path: Path) -> None:
    store = BufferStore(tmp_path, limit=100)
    b = store.open("r1-e000001", Kind.ELECTRICITY)
    for seq in range(1, 102):
        b.append(reading(seq))
    assert b.sync(store.limit) == 11 and b.dropped == 11
    assert len(b) == 90
    assert [r.seq for r in b.take(1000, store.limit)] == list(range(12, 102))


def test_a_backlog_survives_a_restart_and_unacknowledged_readings_go_first(
        tmp_path: Path) -> None:
    store = BufferStore(tmp_path, limit=1000)
    b = store.open("r1-e000001", Kind.ELECTRICITY)
    for seq in range(1, 21):
        b.append(reading(seq))
    in_flight = b.take(5, store.limit)
    b.put_back(in_flight)
    b.sync(store.limit)
    assert store.existing() == {"r1-e000001"}
    again = BufferStore(tmp_path, limit=1000).open("r1-e000001", Kind.ELECTRICITY)
    assert len(again) == 20
    assert [r.seq for r in again.take(100, store.limit)] == list(range(1, 21))


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
