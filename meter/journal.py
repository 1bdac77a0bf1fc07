"""Store-and-forward for a whole fleet: backlogs in memory, spilled to one on-disk journal.

A reading that cannot leave at once (broker unreachable, or the connection's in-flight
window full) joins its meter's backlog; a backlog is sent in order, many readings per
SenML pack, before any newer reading of that meter.

* **Memory first.** A backlog starts in memory, so a full window's short wait costs no
  disk I/O. Once a meter holds :data:`SPILL_READINGS` readings, or its oldest has waited
  :data:`SPILL_SECONDS` (a real outage), they are appended to the journal.
* **One journal, not a file per meter.** ``<state dir>/buffer/seg-*.log`` segments hold
  lines ``<meter> <seq> <time> <register> <rate>``, appended with one write for the whole
  fleet (creating ten thousand files costs seconds on a slow disk; appending costs
  microseconds). Once a meter with lines on disk is connected again, a *replay pass*
  reads the older segments front to back and hands each line to its meter; lines of a
  meter that cannot take them yet are copied, in order, to a fresh segment for a later
  pass. Fully read segments are deleted.
* **Order.** Per meter: packs put back by the replay window (:mod:`meter.replay`:
  acknowledged lately, sent again after a reconnect, each as the message it was) <
  readings in flight < replayed readings waiting < lines on disk < readings in memory.
  A clean stop writes in-flight and replayed readings into a segment before all others
  and memory after all others, so a restart resumes in the same order.
* **The window across a stop.** A clean stop also writes the replay window (and packs
  put back but not yet sent) to ``window.log``, one line per reading, a blank line
  after each pack: the broker may have died before saving them, and the next run may be
  the first to reconnect. The next run puts them back in front of everything; the next
  clean stop replaces the file. They are acknowledged readings: ``--buffer-limit`` does
  not count them, and a stopped fleet does not report them as waiting.
* **Bound.** At most ``limit`` readings per meter (``--buffer-limit``), enforced every
  half second; beyond it the oldest 10 % are discarded and counted as dropped. A register
  is cumulative, so the next reading delivered still carries all the consumption: only
  the detail of the dropped periods is lost, and the fog sees a gap in ``seq``.
* **Write-ahead.** Every reading the fleet makes is appended to ``wal-*.log`` (same
  line format) *before* it is sent live or joins a backlog in memory: one buffered write
  per reading, one flush per batch of readings (:meth:`Journal.write_ahead`). A reading
  stays *open* (its line kept in memory) until it is acknowledged, spilled to a segment
  or dropped by the bound. Once the file holds :data:`WAL_COMPACT_READINGS` lines (and
  twice the open ones), a new file takes the open lines and the old one is deleted: a
  kill -9 replays at most that many readings already acknowledged or on disk. A clean
  stop deletes it.
* **Crashes.** After a ``kill -9`` the next start moves the write-ahead readings that
  are not on disk in a segment into the journal: a meter's readings older than all its
  lines on disk into a front segment, the others into a back segment, each in seq order
  (a reading sent from memory between two stretches of the same meter's backlog - rare -
  comes out of order; the fog stores by (meter, seq)). Each is sent alone, with the time
  the fog decoded from the pack it went in, if it did (``@`` lines note those packs):
  the same reading, not a rounding error away. Segments replayed but not fully
  acknowledged are replayed again; a line whose copy waits or is in flight is skipped,
  and a pack's seqs always strictly increase (the fog rejects a pack whole otherwise, once
  the broker has acknowledged it). So a kill -9 loses nothing produced; it costs
  duplicates (counted by the fog). The replay window stays memory only while running:
  a broker crash *and* a meter kill -9 within the window may still lose.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from meter.lines import format_line, parse_line
from meter.replay import Packs, in_seq_order
from nevoa_core.kinds import Kind
from nevoa_core.senml import Reading

log = logging.getLogger("nevoa.meter.journal")

WINDOW_FILE = "window.log"
SINGLE = "1"  # a 6th field of a recovered line: sent alone (as it may have been sent)
WAL_COMPACT_READINGS = 5_000  # lines in a write-ahead file before it is compacted, at least
SPILL_READINGS = 50
SPILL_SECONDS = 5.0
DROP_FRACTION = 0.1
READY_PER_METER = 500  # replayed readings a meter may hold in memory
READY_TOTAL = 20_000  # replayed readings the fleet may hold in memory
PASS_EVERY = 1.0  # seconds between the starts of two replay passes, at least
PASS_PATIENCE = 30.0  # start a pass for a partly connected fleet after this long
FIRST_SEGMENT = 1_000_000_000


def _segment_name(number: int) -> str:
    return f"seg-{number:012d}.log"


def _wal_name(number: int) -> str:
    return f"wal-{number:012d}.log"


class Journal:
    def __init__(self, directory: Path, limit: int, meter_ids: Sequence[str],
                 kinds: Sequence[Kind]) -> None:
        if limit < 1:
            raise ValueError("a buffer holds at least one reading")
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.limit = limit
        self.ids = list(meter_ids)
        self.kinds = list(kinds)
        self.index = {m: i for i, m in enumerate(self.ids)}
        self.memory: dict[int, list[Reading]] = {}
        self._since: dict[int, float] = {}
        self.ready: dict[int, deque[Reading]] = {}
        self.again: dict[int, deque[list[Reading]]] = {}  # packs put back, sent first
        self._again_total = 0
        self._ready_total = 0
        self.on_disk: dict[int, int] = {}
        self._skip: dict[int, int] = {}  # oldest lines on disk to discard (dropped)
        self.dropped = 0
        self.sendable: set[int] = set()  # meters with readings they may send now
        self.on_sendable: Callable[[int], None] = lambda _i: None
        self._older: list[int] = []  # segments to replay, oldest first
        self._pass: deque[int] | None = None
        self._read_from: dict[tuple[int, int], int] = {}  # (meter, seq) -> its segment
        self._outstanding: Counter[int] = Counter()  # segment -> readings not yet acked
        self._finished: set[int] = set()  # fully read, waiting for acknowledgements
        self._reader: TextIO | None = None
        self._carrying: set[int] = set()
        self._single: set[tuple[int, int]] = set()  # recovered readings sent alone
        self._carry_to = 0
        self._last_pass = -PASS_PATIENCE
        self._wal: TextIO | None = None
        self._wal_lines = 0  # lines in the current write-ahead file
        self._wal_of: dict[tuple[int, int], str] = {}  # open readings -> their lines
        ahead, ahead_files = self._read_ahead()
        existing = sorted(int(p.stem[4:]) for p in directory.glob("seg-*.log"))
        lowest = self._scan(existing, ahead)
        existing = self._recover(existing, ahead, lowest)
        for path in ahead_files:
            path.unlink()
        self._wal_number = int(ahead_files[-1].stem[4:]) if ahead_files else 0
        self._older = existing
        self._write_to = (existing[-1] + 1) if existing else FIRST_SEGMENT
        self._writer: TextIO | None = None
        for i in list(self.on_disk):
            self._enforce(i)
        self._load_window()

    # -- counting ----------------------------------------------------------------------
    def _read_ahead(self) -> tuple[dict[int, dict[int, str]], list[Path]]:
        """The write-ahead files a killed run left: meter -> seq -> line."""
        files = sorted(self.directory.glob("wal-*.log"))
        ahead: dict[int, dict[int, str]] = {}
        packs: list[tuple[int, float, int, int]] = []  # meter, bt, first and last seq
        for path in files:
            with open(path) as f:
                for line in f:
                    parts = line.split(" ")
                    if parts[0] == "@":
                        if len(parts) == 5 and line.endswith("\n"):
                            i = self.index.get(parts[1])
                            if i is not None:
                                packs.append((i, float(parts[2]), int(parts[3]),
                                              int(parts[4])))
                        continue
                    if len(parts) != 5 or not line.endswith("\n") or not parts[1].isdigit():
                        continue  # a line cut by the kill: never sent
                    i = self.index.get(parts[0])
                    if i is not None:
                        ahead.setdefault(i, {})[int(parts[1])] = line
        for i, bt, first, last in packs:  # the times the fog decoded from those packs
            lines = ahead.get(i, {})
            for seq in range(first, last + 1):
                if seq in lines:
                    r = parse_line(lines[seq], self.kinds[i])
                    lines[seq] = format_line(self.ids[i], replace(
                        r, time=bt + round(r.time - bt, 3)))
        return ahead, files

    def _scan(self, segments: list[int], ahead: dict[int, dict[int, str]]) -> dict[int, int]:
        """Count what an earlier run left on disk, per meter; forget the write-ahead
        readings found there. The lowest seq on disk of each meter of ``ahead``."""
        foreign = 0
        lowest: dict[int, int] = {}
        for number in segments:
            with open(self.directory / _segment_name(number)) as f:
                for line in f:
                    parts = line.split(" ", 2)
                    i = self.index.get(parts[0])
                    if i is None:
                        foreign += 1
                        continue
                    self.on_disk[i] = self.on_disk.get(i, 0) + 1
                    mine = ahead.get(i)
                    if mine is not None and len(parts) > 1 and parts[1].isdigit():
                        seq = int(parts[1])
                        mine.pop(seq, None)
                        if seq < lowest.get(i, seq + 1):
                            lowest[i] = seq
        if foreign:
            log.warning("%d buffered readings belong to meters outside this fleet: "
                        "they will be discarded", foreign)
        return lowest

    def _recover(self, segments: list[int], ahead: dict[int, dict[int, str]],
                 lowest: dict[int, int]) -> list[int]:
        """Write-ahead readings of a killed run that are not on disk join the journal:
        older than all of their meter's lines on disk in front, the others behind."""
        front: list[str] = []
        back: list[str] = []
        for i, lines in sorted(ahead.items()):
            low = lowest.get(i)
            for seq in sorted(lines):
                line = f"{lines[seq][:-1]} {SINGLE}\n"  # sent alone, as it may have been
                (front if low is None or seq < low else back).append(line)
            if lines:
                self.on_disk[i] = self.on_disk.get(i, 0) + len(lines)
        if front or back:
            log.info("%d readings of a run that did not stop cleanly recovered from the "
                     "write-ahead files", len(front) + len(back))
        segments = list(segments)
        if front:
            number = (segments[0] if segments else FIRST_SEGMENT) - 1
            with open(self.directory / _segment_name(number), "w") as f:
                f.writelines(front)
            segments.insert(0, number)
        if back:
            number = (segments[-1] if segments else FIRST_SEGMENT) + 1
            with open(self.directory / _segment_name(number), "w") as f:
                f.writelines(back)
            segments.append(number)
        return segments

    def _load_window(self) -> None:
        """The replay window of the last clean stop goes in front of everything."""
        try:
            lines = (self.directory / WINDOW_FILE).read_text().splitlines()
        except FileNotFoundError:
            return
        window: dict[int, Packs] = {}
        pack: list[Reading] = []
        for line in [*lines, ""]:
            if line:
                i = self.index.get(line.split(" ", 1)[0])
                if i is not None:
                    pack.append(parse_line(line, self.kinds[i]))
            elif pack:
                window.setdefault(self.index[pack[0].meter], []).append(pack)
                pack = []
        for i, packs in window.items():
            self.put_back(i, in_seq_order(packs))

    def count(self, i: int) -> int:
        return (self.on_disk.get(i, 0) - self._skip.get(i, 0) + len(self.ready.get(i, ()))
                + len(self.memory.get(i, ())))

    def has(self, i: int) -> bool:
        return i in self.memory or i in self.ready or i in self.on_disk or i in self.again

    def total(self) -> int:
        return (sum(self.on_disk.values()) - sum(self._skip.values()) + self._ready_total
                + sum(len(m) for m in self.memory.values()) + self._again_total)

    def _mark_sendable(self, i: int) -> None:
        if i not in self.sendable:
            self.sendable.add(i)
            self.on_sendable(i)

    # -- write-ahead -------------------------------------------------------------------
    def write_ahead(self, readings: Sequence[tuple[int, Reading]]) -> None:
        """New readings ``(meter, reading)`` reach the write-ahead file (written, not
        fsynced: a process kill loses none of them) before they are sent or wait."""
        if not readings:
            return
        if self._wal is None or self._wal_lines >= max(WAL_COMPACT_READINGS,
                                                       2 * len(self._wal_of)):
            self._compact_ahead()
        assert self._wal is not None
        ids, wal_of = self.ids, self._wal_of
        lines = [format_line(ids[i], r) for i, r in readings]
        self._wal.write("".join(lines))
        self._wal.flush()
        for (i, r), line in zip(readings, lines, strict=True):
            wal_of[(i, r.seq)] = line
        self._wal_lines += len(lines)

    def _compact_ahead(self) -> None:
        """A new write-ahead file holding only the readings still open; the old goes."""
        old = self._wal
        self._wal_number += 1
        self._wal = open(self.directory / _wal_name(self._wal_number), "w")  # noqa: SIM115
        self._wal.write("".join(self._wal_of.values()))
        self._wal.flush()
        self._wal_lines = len(self._wal_of)
        if old is not None:
            old.close()
            (self.directory / _wal_name(self._wal_number - 1)).unlink(missing_ok=True)

    def _settled(self, i: int, seq: int) -> None:
        """Reading ``seq`` of meter ``i`` needs its write-ahead line no more."""
        self._wal_of.pop((i, seq), None)

    # -- in and out --------------------------------------------------------------------
    def add(self, i: int, reading: Reading, now: float) -> None:
        tail = self.memory.get(i)
        if tail is None:
            tail = self.memory[i] = []
            self._since[i] = now
        tail.append(reading)
        if i not in self.on_disk:
            self._mark_sendable(i)

    def put_back(self, i: int, packs: Packs) -> None:
        """Acknowledged packs to send again, each whole, before anything else of meter
        ``i`` (in seq order)."""
        if not packs:
            return
        again = self.again.get(i)
        if again is None:
            again = self.again[i] = deque()
        again.extendleft(reversed(packs))
        self._again_total += sum(len(p) for p in packs)
        self._mark_sendable(i)

    def take(self, i: int, n: int) -> list[Reading]:
        """Up to ``n`` of meter ``i``'s oldest readings that may be sent now (a pack put
        back comes whole, as it was sent the first time)."""
        again = self.again.get(i)
        if again:
            pack = again.popleft()
            self._again_total -= len(pack)
            if not again:
                del self.again[i]
                if not (i in self.ready or (i in self.memory and i not in self.on_disk)):
                    self.sendable.discard(i)
            return pack
        out: list[Reading] = []
        ready = self.ready.get(i)
        if ready:
            single = self._single
            while ready and len(out) < n:
                if out and ready[0].seq <= out[-1].seq:
                    break  # a pack's seqs strictly increase, or the fog rejects it whole
                if single and (i, ready[0].seq) in single:
                    if out:
                        break  # it goes alone, as it went before the kill
                    single.discard((i, ready[0].seq))
                    out.append(ready.popleft())
                    break
                out.append(ready.popleft())
            self._ready_total -= len(out)
            if not ready:
                del self.ready[i]
        tail = self.memory.get(i)
        if len(out) < n and tail and i not in self.on_disk and i not in self.ready \
                and (not out or tail[0].seq > out[-1].seq):
            more = n - len(out)
            out.extend(tail[:more])
            del tail[:more]
            if not tail:
                del self.memory[i], self._since[i]
        if not (i in self.ready or (i in self.memory and i not in self.on_disk)):
            self.sendable.discard(i)
        if len(out) > 1 and self._wal_of:
            self._note_pack(i, out)
        return out

    def _note_pack(self, i: int, pack: list[Reading]) -> None:
        """The fog decodes a reading of a pack at ``bt + round(time - bt, 3)``: for the
        write-ahead readings of this pack, that time is noted (before it is sent), so
        that after a kill -9 they go again as the fog may have stored them."""
        bt, wal_of = pack[0].time, self._wal_of
        moved = [r for r in pack[1:] if (i, r.seq) in wal_of
                 and bt + round(r.time - bt, 3) != r.time]
        if not moved or self._wal is None:
            return
        for r in moved:
            wal_of[(i, r.seq)] = format_line(self.ids[i], replace(
                r, time=bt + round(r.time - bt, 3)))
        self._wal.write(f"@ {self.ids[i]} {bt!r} {moved[0].seq} {moved[-1].seq}\n")
        self._wal.flush()
        self._wal_lines += 1

    # -- housekeeping ------------------------------------------------------------------
    def tick(self, now: float, connected: Callable[[int], bool], budget: int = 20_000) -> None:
        """Spill what waited long enough, enforce the bound, advance the replay."""
        spill = [i for i, tail in self.memory.items()
                 if len(tail) >= SPILL_READINGS or now - self._since[i] >= SPILL_SECONDS]
        self._spill(spill)
        for i in [i for i in self.on_disk if self.count(i) > self.limit]:
            self._enforce(i)
        for i in [i for i in self.memory if self.count(i) > self.limit]:
            self._enforce(i)
        if self._pass is None and self._should_start_pass(now, connected):
            self._start_pass(now)
        if self._pass is not None:
            self._replay(connected, budget)

    def _spill(self, meters: Sequence[int]) -> None:
        if not meters:
            return
        lines: list[str] = []
        spilled: dict[int, list[Reading]] = {}
        for i in meters:
            tail = spilled[i] = self.memory.pop(i)
            del self._since[i]
            lines.extend(format_line(self.ids[i], r) for r in tail)
            self.on_disk[i] = self.on_disk.get(i, 0) + len(tail)
            if i not in self.ready and i not in self.again:
                self.sendable.discard(i)
        writer = self._open_writer()
        writer.writelines(lines)
        writer.flush()
        if self._wal_of:
            for i in meters:
                for r in spilled[i]:
                    self._settled(i, r.seq)

    def _open_writer(self) -> TextIO:
        if self._writer is None:
            self._writer = open(self.directory / _segment_name(self._write_to), "a")  # noqa: SIM115
        return self._writer

    def _enforce(self, i: int) -> None:
        """Drop meter ``i``'s oldest readings beyond the bound: replayed, disk, memory."""
        excess = self.count(i) - self.limit
        if excess <= 0:
            return
        drop = excess + max(1, int(self.limit * DROP_FRACTION))
        drop = min(drop, self.count(i) - 1)
        self.dropped += drop
        ready = self.ready.get(i)
        while ready and drop:
            self._single.discard((i, ready.popleft().seq))
            self._ready_total -= 1
            drop -= 1
        if ready is not None and not ready:
            del self.ready[i]
        on_disk = self.on_disk.get(i, 0) - self._skip.get(i, 0)
        from_disk = min(drop, on_disk)
        if from_disk:
            self._skip[i] = self._skip.get(i, 0) + from_disk
            drop -= from_disk
        if drop:
            tail = self.memory[i]
            for r in tail[:drop]:
                self._settled(i, r.seq)
            del tail[:drop]

    def _should_start_pass(self, now: float, connected: Callable[[int], bool]) -> bool:
        if not self.on_disk or now - self._last_pass < PASS_EVERY:
            return False
        if self._ready_total >= READY_TOTAL:
            return False
        up = sum(n for i, n in self.on_disk.items() if connected(i))
        if up == 0:
            return False
        return up >= 0.9 * sum(self.on_disk.values()) or now - self._last_pass >= PASS_PATIENCE

    def _start_pass(self, now: float) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            self._older.append(self._write_to)
        if not self._older:
            return
        self._pass = deque(self._older)
        self._older = []
        self._carry_to = self._pass[-1] + 1
        self._write_to = self._carry_to + 1
        self._carrying = set()
        self._last_pass = now

    def _replay(self, connected: Callable[[int], bool], budget: int) -> None:
        carried: list[str] = []
        assert self._pass is not None
        while budget > 0 and self._ready_total < READY_TOTAL and self._pass:
            if self._reader is None:
                self._reader = open(self.directory / _segment_name(self._pass[0]))  # noqa: SIM115
            line = self._reader.readline()
            if not line:
                self._reader.close()
                self._reader = None
                # the lines carried on are on disk again before the segment may go
                self._append_carried(carried)
                carried.clear()
                self._finish_segment(self._pass.popleft())
                continue
            budget -= 1
            self._replay_line(line, connected, carried)
        self._append_carried(carried)
        if not self._pass:
            self._pass = None
            if (self.directory / _segment_name(self._carry_to)).exists():
                self._older.append(self._carry_to)

    def _replay_line(self, line: str, connected: Callable[[int], bool],
                     carried: list[str]) -> None:
        meter_id, seq, time, register, rate, *single = line.split()
        i = self.index.get(meter_id)
        if i is None:
            return  # another fleet's meter
        if self._skip.get(i):
            self._skip[i] -= 1
            if not self._skip[i]:
                del self._skip[i]
            self._left_disk(i)
            return
        if (i, int(seq)) in self._read_from:  # a copy (a killed run's) waits or is in flight
            self._left_disk(i)
            return
        ready = self.ready.get(i)
        if i in self._carrying or not connected(i) or (ready and len(ready) >= READY_PER_METER):
            self._carrying.add(i)
            carried.append(line)
            return
        if ready is None:
            ready = self.ready[i] = deque()
        ready.append(Reading(meter_id, int(seq), float(time), self.kinds[i], float(register),
                             None if rate == "-" else float(rate)))
        if single:
            self._single.add((i, int(seq)))
        assert self._pass is not None
        self._read_from[(i, int(seq))] = self._pass[0]
        self._outstanding[self._pass[0]] += 1
        self._ready_total += 1
        self._left_disk(i)
        self._mark_sendable(i)

    def _finish_segment(self, number: int) -> None:
        """A segment fully read: deleted once every reading taken from it is acknowledged
        (a kill -9 meanwhile replays it again: duplicates, never a loss)."""
        if self._outstanding.get(number):
            self._finished.add(number)
        else:
            self._outstanding.pop(number, None)
            (self.directory / _segment_name(number)).unlink(missing_ok=True)

    def acknowledged(self, i: int, readings: Sequence[Reading]) -> None:
        """The broker acknowledged these readings of meter ``i``: the segments they were
        replayed from, and their write-ahead lines, may go."""
        if self._wal_of:
            for r in readings:
                self._settled(i, r.seq)
        if not self._read_from:
            return
        for r in readings:
            number = self._read_from.pop((i, r.seq), None)
            if number is None:
                continue
            self._outstanding[number] -= 1
            if not self._outstanding[number] and number in self._finished:
                self._finished.discard(number)
                self._finish_segment(number)

    def _left_disk(self, i: int) -> None:
        self.on_disk[i] -= 1
        if not self.on_disk[i]:
            del self.on_disk[i]
            if i in self.memory:
                self._mark_sendable(i)

    def _line(self, i: int, r: Reading) -> str:
        line = format_line(self.ids[i], r)
        return f"{line[:-1]} {SINGLE}\n" if (i, r.seq) in self._single else line

    def _append_carried(self, carried: list[str]) -> None:
        if carried:
            with open(self.directory / _segment_name(self._carry_to), "a") as f:
                f.writelines(carried)

    # -- stopping ----------------------------------------------------------------------
    def close(self, unacknowledged: dict[int, list[Reading]],
              window: dict[int, Packs] | None = None) -> None:
        """A clean stop: everything not acknowledged reaches disk, in order; so do the
        replay ``window`` and the packs put back, to ``window.log``."""
        self._save_window(window or {})
        if self._pass is not None:  # finish the pass by carrying all that is left
            rest: list[str] = []
            if self._reader is not None:
                rest.extend(self._reader.readlines())
                self._reader.close()
                self._reader = None
                (self.directory / _segment_name(self._pass.popleft())).unlink(missing_ok=True)
            for number in self._pass:
                path = self.directory / _segment_name(number)
                rest.extend(path.read_text().splitlines(keepends=True))
                path.unlink()
            self._append_carried(rest)
            self._pass = None
        first: list[str] = []
        for i in sorted(set(unacknowledged) | set(self.ready)):
            readings = sorted(unacknowledged.get(i, []), key=lambda r: r.seq)
            readings += list(self.ready.pop(i, ()))
            first.extend(self._line(i, r) for r in readings)
            self.on_disk[i] = self.on_disk.get(i, 0) + len(readings)
        if first:
            numbers = [int(p.stem[4:]) for p in self.directory.glob("seg-*.log")]
            front = min(numbers, default=self._write_to) - 1
            with open(self.directory / _segment_name(front), "w") as f:
                f.writelines(first)
        # what was read from them and not acknowledged is in the front segment now
        for number in self._finished:
            (self.directory / _segment_name(number)).unlink(missing_ok=True)
        self._finished.clear()
        self._outstanding.clear()
        self._read_from.clear()
        self._single.clear()
        self._spill(list(self.memory))
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._ready_total = 0
        # everything not acknowledged is in a segment now
        if self._wal is not None:
            self._wal.close()
            self._wal = None
        for path in self.directory.glob("wal-*.log"):
            path.unlink()
        self._wal_of.clear()

    def _save_window(self, window: dict[int, Packs]) -> None:
        path = self.directory / WINDOW_FILE
        meters = sorted(set(window) | set(self.again))
        if not meters:
            path.unlink(missing_ok=True)
            return
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            for i in meters:
                for pack in in_seq_order([*self.again.pop(i, ()), *window.get(i, ())]):
                    f.writelines(format_line(self.ids[i], r) for r in pack)
                    f.write("\n")
        tmp.replace(path)
        self._again_total = 0
