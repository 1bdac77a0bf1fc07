"""What a fleet remembers across restarts: each meter's seq, register, clock and settings.

One fixed-size record per meter in a memory-mapped file. A reading's record is written
*before* the reading is published, with a plain memory store (no system call): the page
belongs to the kernel, so even ``kill -9`` of the simulator loses nothing of it, and a
restarted meter continues after the last seq it used - never repeating one. (A power cut
of the whole machine can lose the last seconds; that is the OS's page-cache guarantee.)

The ids of recently applied commands live beside it in ``commands.json``, rewritten on
every applied command (commands are rare), so a redelivered command is recognised after
a restart too.
"""

from __future__ import annotations

import json
import logging
import math
import mmap
import os
import struct
from collections.abc import Sequence
from pathlib import Path

from meter.model import SimulatedMeter
from meter.obey import RecentCommands
from meter.physics import Tendency

log = logging.getLogger("nevoa.meter.state")

MAGIC = b"NVMSTAT1"
_HEADER = struct.Struct("<8sq")
# id, seq, register, last_time, interval, drift_since, valve_open, tendency, tamper_done,
# configured interval, configured tendency (what the flags said when it was saved)
_RECORD = struct.Struct("<64sqddddBBBxdB7x")
_TENDENCIES = list(Tendency)
_TENDENCY_CODE = {t: n for n, t in enumerate(_TENDENCIES)}
_NONE = math.nan


def _opt(value: float | None) -> float:
    return _NONE if value is None else value


def _unopt(value: float) -> float | None:
    return None if math.isnan(value) else value


class MeterStateFile:
    """The memory-mapped records of one fleet (``meters.state``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._map: mmap.mmap | None = None
        self._ids: list[bytes] = []
        self._configured: list[tuple[float, int]] = []

    def attach(self, meters: Sequence[SimulatedMeter]) -> int:
        """Resume the meters found in the file; map a file holding exactly this fleet.
        Returns how many meters were resumed.

        A meter's interval and tendency come back as a command left them, unless the
        configuration changed since (a new ``--interval`` or ``--tendency`` wins)."""
        saved = self._read_saved()
        self._configured = [(m.interval, _TENDENCY_CODE[m.tendency]) for m in meters]
        resumed = 0
        for m in meters:
            record = saved.get(m.meter_id)
            if record is not None:
                self._restore(m, record)
                resumed += 1
        self._ids = [m.meter_id.encode() for m in meters]
        if any(len(i) > 64 for i in self._ids):
            raise ValueError("meter ids longer than 64 bytes cannot be stored")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.write(_HEADER.pack(MAGIC, len(meters)))
            for i, m in enumerate(meters):
                f.write(self._pack(i, m))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        with open(self.path, "r+b") as f:
            self._map = mmap.mmap(f.fileno(), 0)
        return resumed

    def _read_saved(self) -> dict[str, tuple[object, ...]]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        if len(data) < _HEADER.size or data[:8] != MAGIC:
            log.warning("%s is not a meter state file; starting afresh", self.path)
            return {}
        (_, count) = _HEADER.unpack_from(data)
        saved: dict[str, tuple[object, ...]] = {}
        for i in range(count):
            offset = _HEADER.size + i * _RECORD.size
            if offset + _RECORD.size > len(data):
                break
            record = _RECORD.unpack_from(data, offset)
            saved[record[0].rstrip(b"\0").decode()] = record
        return saved

    @staticmethod
    def _restore(m: SimulatedMeter, record: tuple[object, ...]) -> None:
        (_, seq, register, last_time, interval, drift, valve, tendency, tamper,
         was_interval, was_tendency) = record
        assert isinstance(seq, int) and isinstance(register, float)
        assert isinstance(last_time, float) and isinstance(interval, float)
        assert isinstance(drift, float) and isinstance(tendency, int)
        m.seq, m.register, m.last_time = seq, register, _unopt(last_time)
        m.drift_since = _unopt(drift)
        m.valve_open, m.tamper_done = bool(valve), bool(tamper)
        if was_interval == m.interval:
            m.interval = interval
        if was_tendency == _TENDENCY_CODE[m.tendency] and tendency < len(_TENDENCIES):
            m.tendency = _TENDENCIES[tendency]

    def _values(self, index: int, m: SimulatedMeter) -> tuple[object, ...]:
        base_interval, base_tendency = self._configured[index]
        return (self._ids[index], m.seq, m.register, _opt(m.last_time), m.interval,
                _opt(m.drift_since), m.valve_open, _TENDENCY_CODE[m.tendency],
                m.tamper_done, base_interval, base_tendency)

    def _pack(self, index: int, m: SimulatedMeter) -> bytes:
        return _RECORD.pack(*self._values(index, m))

    def save(self, index: int, m: SimulatedMeter) -> None:
        """Record meter ``index`` (its position in the fleet) as it is now."""
        assert self._map is not None, "attach() first"
        _RECORD.pack_into(self._map, _HEADER.size + index * _RECORD.size,
                          *self._values(index, m))

    def close(self) -> None:
        if self._map is not None:
            self._map.flush()
            self._map.close()
            self._map = None


class CommandLog:
    """The recently applied command ids of every meter (``commands.json``; in memory
    only when ``path`` is None)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._recent: dict[str, RecentCommands] = {}
        try:
            saved = json.loads(path.read_text()) if path is not None else {}
        except FileNotFoundError:
            saved = {}
        except ValueError:
            log.warning("%s is not valid JSON; forgetting past command ids", path)
            saved = {}
        for meter, ids in saved.items():
            self._recent[meter] = RecentCommands(str(i) for i in ids)

    def recent(self, meter_id: str) -> RecentCommands:
        recent = self._recent.get(meter_id)
        if recent is None:
            recent = self._recent[meter_id] = RecentCommands()
        return recent

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        body = {m: r.ids() for m, r in self._recent.items() if r.ids()}
        tmp.write_text(json.dumps(body, separators=(",", ":")))
        os.replace(tmp, self.path)
