"""A drill's known workload: every reading of every meter, distinct by (meter, seq).

Electricity meters ``<region>-e000001..`` send seqs 1..n, one reading per pack, as a live
fleet does: interleaved, every meter's seq 1 before any seq 2. Readings are 60 s of meter
time apart and straddle the most recent local midnight (the fog's calendar) that lies in
the past, so the check of the day ranking covers two days; one meter in fifty starts just
below the register's modulus and rolls over during the run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from nevoa_core import topics
from nevoa_core.calendar import Calendar
from nevoa_core.ids import meter_id
from nevoa_core.kinds import REGISTER_MODULUS, Kind
from nevoa_core.senml import Reading, encode_pack

KIND = Kind.ELECTRICITY
STEP = 60.0  # meter seconds between two readings of a meter
MODULUS_MILLI = round(REGISTER_MODULUS * 1000)


@dataclass(frozen=True, slots=True)
class Workload:
    region: str
    meters: tuple[str, ...]
    per_meter: int
    start: float  # time of every meter's seq 1
    _index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index.update({m: i for i, m in enumerate(self.meters)})

    def __len__(self) -> int:
        return len(self.meters) * self.per_meter

    # keys: 0..len-1, seq-major, so that key order is the live fleet's sending order
    def key(self, meter_index: int, seq: int) -> int:
        return (seq - 1) * len(self.meters) + meter_index

    def meter_index(self, key: int) -> int:
        return key % len(self.meters)

    def seq(self, key: int) -> int:
        return key // len(self.meters) + 1

    def index_of(self, meter: str) -> int:
        return self._index[meter]

    def reading(self, key: int) -> Reading:
        i, seq = self.meter_index(key), self.seq(key)
        base, step = _register_plan(i)
        used = step * (seq - 1)
        register = ((base + used) % MODULUS_MILLI) / 1000
        return Reading(self.meters[i], seq, self.start + (seq - 1) * STEP, KIND, register,
                       round(step * 3600 / STEP, 1))  # W: the step's Wh over its 60 s

    def message(self, key: int) -> tuple[str, bytes]:
        r = self.reading(key)
        return topics.reading(self.region, r.meter), encode_pack(r.meter, [r])

    def blocks(self) -> dict[str, range]:
        """Every raw block (seq // 128) a meter's readings fall in."""
        last = (self.per_meter) // 128
        return {m: range(0, last + 1) for m in self.meters}


def _register_plan(i: int) -> tuple[int, int]:
    """(register at seq 1, growth per reading), in Wh."""
    step = 50 + (i % 17) * 13
    if i % 50 == 7:  # rolls over during the run
        return MODULUS_MILLI - step * 3 - 500, step
    return 1_000_000 + (i * 17_250) % 80_000_000, step


def build_workload(region: str, meters: int, per_meter: int,
                   calendar: Calendar | None = None, now: float | None = None) -> Workload:
    calendar = calendar or Calendar()
    now = time.time() if now is None else now
    span = per_meter * STEP
    # the latest local midnight with the whole run before it... and half a run after it
    day = calendar.day_number(now - span / 2 - 300)
    midnight = calendar.day_start(day)
    while midnight + span / 2 > now - 300:
        day -= 1
        midnight = calendar.day_start(day)
    start = midnight - (per_meter // 2) * STEP
    ids = tuple(meter_id(region, KIND.spec.letter, i + 1) for i in range(meters))
    return Workload(region, ids, per_meter, start)
