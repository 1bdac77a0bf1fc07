"""Counting what a region's Redis holds: readings by (meter, seq), and consumption.

Everything is read back from the raw blocks the ingest script writes
(``nv:{region}:m:{meter}:raw:{block}``, decoded by :func:`fog_node.store.parse_block`):
a (meter, seq) in two records of a block is **duplicated**; one that was acknowledged and
is in no record is **lost**. Consumption is recomputed from the stored readings with the
one consumption rule (:func:`nevoa_core.consumption.link`, each link to the later
reading's local day and month) and held against the fog's day and month rankings
(:class:`fog_node.aggregates.RegionAggregates`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import cast

import redis

from fog_node.aggregates import RegionAggregates
from fog_node.keys import RAW_BLOCK, RegionKeys
from fog_node.store import parse_block
from nevoa_core.calendar import Calendar
from nevoa_core.consumption import link
from nevoa_core.kinds import Kind
from nevoa_core.periods import Period, Step
from nevoa_core.senml import Reading

PIPELINE_CHUNK = 1000


@dataclass(slots=True)
class Stored:
    """What the raw blocks of some meters hold."""

    copies: dict[str, Counter[int]] = field(default_factory=dict)  # meter -> seq -> records
    readings: dict[str, list[Reading]] = field(default_factory=dict)  # first record per seq

    def has(self, meter: str, seq: int) -> bool:
        found = self.copies.get(meter)
        return found is not None and seq in found

    def duplicated(self, meters: Iterable[str] | None = None) -> int:
        """(meter, seq) pairs stored more than once."""
        chosen = self.copies if meters is None else {m: self.copies.get(m, Counter())
                                                    for m in meters}
        return sum(1 for counts in chosen.values() for n in counts.values() if n > 1)

    def total(self) -> int:
        return sum(len(c) for c in self.copies.values())


def read_stored(client: redis.Redis, region: str, blocks: Mapping[str, Iterable[int]],
                kind: Kind) -> Stored:
    """Read and decode the raw blocks ``blocks[meter]`` of each meter."""
    keys = RegionKeys(region)
    wanted = [(meter, block) for meter, numbers in blocks.items() for block in numbers]
    stored = Stored()
    for first in range(0, len(wanted), PIPELINE_CHUNK):
        chunk = wanted[first:first + PIPELINE_CHUNK]
        pipe = client.pipeline(transaction=False)
        for meter, block in chunk:
            pipe.get(keys.raw(meter, block))
        for (meter, block), text in zip(chunk, pipe.execute(), strict=True):
            readings = parse_block(meter, kind, block, cast(str | None, text))
            copies = stored.copies.setdefault(meter, Counter())
            kept = stored.readings.setdefault(meter, [])
            for r in readings:
                if not copies[r.seq]:
                    kept.append(r)
                copies[r.seq] += 1
    for kept in stored.readings.values():
        kept.sort(key=lambda r: r.seq)
    return stored


def blocks_of(seqs: Iterable[int]) -> set[int]:
    return {seq // RAW_BLOCK for seq in seqs}


@dataclass(frozen=True, slots=True)
class Mismatch:
    meter: str
    period: str  # e.g. day:2026-11-30
    expected: int  # Wh or L, recomputed from the stored readings
    ranked: int  # Wh or L, in the fog's ranking


def expected_consumption(readings: Mapping[str, list[Reading]], calendar: Calendar
                         ) -> dict[tuple[Period, str], int]:
    """Per (period, meter), the consumption of the links that end in it (milli-units)."""
    expected: dict[tuple[Period, str], int] = defaultdict(int)
    for meter, series in readings.items():
        for before, after in pairwise(series):
            used = int(link(before.register, after.register).consumed * 1000)
            for step in (Step.DAY, Step.MONTH):
                expected[(calendar.period_containing(step, after.time), meter)] += used
        for r in series:  # a period where a meter reported at all is in the ranking
            for step in (Step.DAY, Step.MONTH):
                expected.setdefault((calendar.period_containing(step, r.time), meter), 0)
    return expected


def consumption_mismatches(client: redis.Redis, region: str,
                           readings: Mapping[str, list[Reading]], kind: Kind,
                           calendar: Calendar | None = None) -> list[Mismatch]:
    """Every (meter, day or month) whose ranked consumption differs from the readings'."""
    calendar = calendar or Calendar()
    aggregates = RegionAggregates(client, region)
    expected = expected_consumption(readings, calendar)
    by_period: dict[Period, list[str]] = defaultdict(list)
    for period, meter in expected:
        by_period[period].append(meter)
    found = []
    for period, meters in by_period.items():
        ranked = aggregates.consumption(kind, period, meters)
        for meter in meters:
            value = ranked.get(meter)
            got = 0 if value is None else round(value * 1000)
            want = expected[(period, meter)]
            if got != want:
                found.append(Mismatch(meter, period.name, want, got))
    return found
