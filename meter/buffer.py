"""Store-and-forward: each meter's readings that could not be sent yet, kept on disk.

A meter whose broker is unreachable (or whose in-flight window is full) appends its
readings to ``<state dir>/buffer/<meter>.log``, one line per reading; once the
connection is back they are sent in order, many per SenML pack, before any newer
reading of that meter. While a meter has a backlog, its new readings join the end of it.

Bounds: at most ``limit`` readings per meter (``--buffer-limit``). When a new reading
would exceed it, the oldest 10 % are discarded in one go and counted as dropped: a
register is cumulative, so the next reading delivered still carries all the
consumption - only the detail of the dropped periods is lost, and the fog sees a gap in
``seq``. Lines are written to disk in small batches (every ``sync``, half a second), so
a ``kill -9`` can lose the last half second of a backlog; a clean stop loses nothing.
A file is deleted once every reading in it has been handed to the connection.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from nevoa_core.kinds import Kind
from nevoa_core.senml import Reading

log = logging.getLogger("nevoa.meter.buffer")

DROP_FRACTION = 0.1


def _line(r: Reading) -> str:
    rate = "-" if r.rate is None else repr(r.rate)
    return f"{r.seq} {r.time!r} {r.register!r} {rate}\n"


def _parse(meter_id: str, kind: Kind, line: str) -> Reading:
    seq, time, register, rate = line.split()
    return Reading(meter_id, int(seq), float(time), kind, float(register),
                   None if rate == "-" else float(rate))


class MeterBuffer:
    """The on-disk backlog of one meter."""

    __slots__ = ("_offset", "_pending", "count", "dropped", "kind", "meter_id", "path")

    def __init__(self, path: Path, meter_id: str, kind: Kind) -> None:
        self.path = path
        self.meter_id = meter_id
        self.kind = kind
        self.count = 0  # readings waiting, on disk and pending
        self.dropped = 0
        self._offset = 0  # bytes of the file already handed out
        self._pending: list[str] = []
        if path.exists():
            with open(path, "rb") as f:
                self.count = sum(1 for _ in f)

    def __len__(self) -> int:
        return self.count

    def append(self, reading: Reading) -> None:
        self._pending.append(_line(reading))
        self.count += 1

    @property
    def dirty(self) -> bool:
        return bool(self._pending)

    def sync(self, limit: int) -> int:
        """Write pending readings to disk and enforce the bound; returns how many
        readings were dropped."""
        if self._pending:
            with open(self.path, "a") as f:
                f.writelines(self._pending)
            self._pending.clear()
        if self.count <= limit:
            return 0
        keep = max(1, limit - max(1, int(limit * DROP_FRACTION)))
        with open(self.path) as f:
            f.seek(self._offset)
            lines = f.readlines()
        dropped = len(lines) - keep
        self._rewrite(lines[-keep:])
        self.count = keep
        self.dropped += dropped
        return dropped

    def take(self, n: int, limit: int) -> list[Reading]:
        """The oldest ``n`` waiting readings, removed from the backlog."""
        self.sync(limit)
        if self.count == 0:
            return []
        out: list[Reading] = []
        with open(self.path) as f:
            f.seek(self._offset)
            for _ in range(n):
                line = f.readline()
                if not line:
                    break
                out.append(_parse(self.meter_id, self.kind, line))
            self._offset = f.tell()
            at_end = not f.readline()
        self.count -= len(out)
        if at_end:
            self.path.unlink(missing_ok=True)
            self._offset = 0
            self.count = 0
        return out

    def put_back(self, readings: Sequence[Reading]) -> None:
        """Return readings that were taken but never acknowledged, before the rest."""
        if not readings:
            return
        rest: list[str] = []
        if self.path.exists():
            with open(self.path) as f:
                f.seek(self._offset)
                rest = f.readlines()
        lines = [_line(r) for r in readings] + rest + self._pending
        self._rewrite(lines)
        self._pending.clear()
        self.count = len(lines)

    def _rewrite(self, lines: Iterable[str]) -> None:
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            f.writelines(lines)
        os.replace(tmp, self.path)
        self._offset = 0


class BufferStore:
    """The backlogs of a fleet, under one directory, created on demand."""

    def __init__(self, directory: Path, limit: int) -> None:
        if limit < 1:
            raise ValueError("a buffer holds at least one reading")
        self.directory = directory
        self.limit = limit
        directory.mkdir(parents=True, exist_ok=True)

    def path_of(self, meter_id: str) -> Path:
        return self.directory / f"{meter_id}.log"

    def open(self, meter_id: str, kind: Kind) -> MeterBuffer:
        return MeterBuffer(self.path_of(meter_id), meter_id, kind)

    def existing(self) -> set[str]:
        """Meter ids with a backlog left on disk by an earlier run."""
        return {p.stem for p in self.directory.glob("*.log") if p.stat().st_size > 0}
