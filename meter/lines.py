"""One reading as one line of text, ``<meter> <seq> <time> <register> <rate>``: the
on-disk journal's format (:mod:`meter.journal`) and the replay window's compact form in
memory (:mod:`meter.replay`). Numbers are written with ``repr``, so a reading read back
is the same reading and encodes to the same bytes."""

from __future__ import annotations

from nevoa_core.kinds import Kind
from nevoa_core.senml import Reading


def format_line(meter_id: str, r: Reading) -> str:
    rate = "-" if r.rate is None else repr(r.rate)
    return f"{meter_id} {r.seq} {r.time!r} {r.register!r} {rate}\n"


def parse_line(line: str, kind: Kind) -> Reading:
    meter_id, seq, time, register, rate = line.split()
    return Reading(meter_id, int(seq), float(time), kind, float(register),
                   None if rate == "-" else float(rate))
