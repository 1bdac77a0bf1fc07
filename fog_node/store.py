"""RegionStore: a region's readings in Redis. Keys come from :mod:`fog_node.keys`.

Writes go through one server-side script per batch (record_readings.lua): one round
trip, atomic, idempotent by (meter, seq). Reads decode what the script wrote.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, cast

import redis

from fog_node.config import Retention
from fog_node.keys import (
    RAW_BLOCK,
    STAT_DUPLICATES,
    STAT_REJECTED_PREFIX,
    STAT_STALE,
    STAT_STORED,
    RegionKeys,
)
from nevoa_core.calendar import Calendar
from nevoa_core.clock import Clock, SystemClock
from nevoa_core.kinds import REGISTER_MODULUS, Kind
from nevoa_core.senml import MAX_SEQ_JUMP, Reading
from nevoa_core.vee import (
    STUCK_AFTER,
    Flags,
    flags_from_summary,
    rate_to_register_per_second,
    spike_limit,
)

KIND_BY_LETTER = {k.spec.letter: k for k in Kind}


@dataclass(slots=True)
class IngestBatch:
    """What one round trip writes: readings, status changes and reject counts."""

    readings: list[Reading] = field(default_factory=list)
    statuses: list[tuple[str, str, float]] = field(default_factory=list)  # meter, status, at
    rejects: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class RecordResult:
    stored: int
    duplicates: int
    stale: int = 0  # too old to place: its neighbours' raw readings have expired
    conflicts: int = 0  # a meter id already used by a meter of the other kind
    seq_jumps: int = 0  # a seq too far ahead of the meter's latest (MAX_SEQ_JUMP)


@dataclass(frozen=True, slots=True)
class MeterSummary:
    latest: Reading | None
    status: str | None  # "online" / "offline" from the meter's last will, None if unknown
    status_time: float | None
    valve: str | None  # "open" / "closed" as the meter last acknowledged, None if unknown
    valve_reason: str | None
    flags: Flags
    flowing_since: float | None  # since when it has consumed without a pause
    seen: float | None  # when the fog node stored the latest reading
    interval: float | None  # meter time between the latest two readings


_LETTER = {k: k.spec.letter for k in Kind}  # a dict lookup: Kind.spec is a property call


def _readings_blob(readings: Sequence[Reading]) -> str:
    # a list, not a generator: join builds it anyway; half the cost of the first version
    return "\n".join([
        f"{r.meter} {r.seq} {r.time!r} {r.register!r} "
        f"{'-' if r.rate is None else repr(r.rate)} {_LETTER[r.kind]}"
        for r in readings
    ])


def parse_block(meter: str, kind: Kind, block: int, text: str | None) -> list[Reading]:
    """A block of raw readings, records ``;seq%128:time:register:rate`` in arrival order,
    as Readings in seq order."""
    readings = []
    for record in (text or "").split(";")[1:]:
        offset, when, register, rate = record.split(":")
        readings.append(Reading(meter, block * RAW_BLOCK + int(offset), float(when), kind,
                                float(register), float(rate) if rate else None))
    readings.sort(key=lambda r: r.seq)
    return readings


def _float(value: str | None) -> float | None:
    return float(value) if value else None


@dataclass(frozen=True, slots=True)
class Latest:
    """The summary's "last" field, "seq time register rate kind", and its "live" field,
    "flowing_since seen interval open_hour open_hour_consumption" (seen: whole seconds;
    the open hour's consumption in integer Wh or L, not yet in the hourly rollup)."""

    reading: Reading
    flowing_since: float | None  # since when the meter has consumed without a pause
    seen: float  # when the fog node stored it
    interval: float | None  # meter time since the reading before it
    open_hour: int  # the latest reading's hour bucket: Calendar.slot_id (day * 25 + slot)
    open_hour_milli: int


def parse_last(meter: str, last: str | None, live: str | None) -> Latest | None:
    if not last or not live:
        return None
    seq, when, register, rate, kind = last.split(" ")
    flow, seen, interval, hour, acc = live.split(" ")
    reading = Reading(meter, int(seq), float(when), KIND_BY_LETTER[kind], float(register),
                      None if rate == "-" else float(rate))
    return Latest(reading, None if flow == "-" else float(flow), float(seen),
                  None if interval == "-" else float(interval), int(hour), int(acc))


def summary_from_fields(meter: str, fields: dict[str, str]) -> MeterSummary:
    last = parse_last(meter, fields.get("last"), fields.get("live"))
    return MeterSummary(
        last.reading if last else None, fields.get("status"),
        _float(fields.get("status_time")), fields.get("valve"), fields.get("valve_reason"),
        flags_from_summary(fields), last.flowing_since if last else None,
        last.seen if last else None, last.interval if last else None,
    )


class RegionStore:
    """A region's readings in Redis, written in batches of one round trip."""

    def __init__(self, client: redis.Redis, region: str, retention: Retention | None = None,
                 calendar: Calendar | None = None, clock: Clock | None = None) -> None:
        retention = retention or Retention()
        self.calendar = calendar or Calendar()
        self.clock = clock or SystemClock()
        self.redis = client
        self.keys = RegionKeys(region)
        self.retention = retention
        self._settings = [
            retention.raw, retention.hourly, retention.daily, retention.top_day,
            retention.top_month, spike_limit(Kind.ELECTRICITY), spike_limit(Kind.WATER),
            round(REGISTER_MODULUS * 1000), STUCK_AFTER,
            rate_to_register_per_second(Kind.ELECTRICITY), rate_to_register_per_second(Kind.WATER),
            MAX_SEQ_JUMP, self.calendar.lua_table(),
        ]
        source = resources.files("fog_node").joinpath("record_readings.lua").read_text()
        self._record_script = client.register_script(source)

    def record(self, batch: IngestBatch, now: float | None = None) -> RecordResult:
        """Store a batch idempotently by (meter, seq) and count its rejects, atomically."""
        if not (batch.readings or batch.statuses or batch.rejects):
            return RecordResult(0, 0)
        seen = str(int(self.clock.now() if now is None else now))
        args: list[Any] = [*self.keys.ingest_layout(), seen,
                           *self._settings, _readings_blob(batch.readings),
                           "\n".join(f"{m} {s} {t!r}" for m, s, t in batch.statuses),
                           "\n".join(f"{reason} {n}" for reason, n in batch.rejects.items())]
        stored, duplicates, stale, conflicts, jumps = self._record_script(
            keys=[self.keys.stats], args=args)
        return RecordResult(int(stored), int(duplicates), int(stale), int(conflicts),
                            int(jumps))

    # --- reading back ----------------------------------------------------------------------
    def summary(self, meter: str) -> MeterSummary | None:
        fields = cast(dict[str, str], self.redis.hgetall(self.keys.meter(meter)))
        if not fields:
            return None
        return summary_from_fields(meter, fields)

    def summary_fields(self, meter: str) -> dict[str, str]:
        fields = cast(dict[str, str], self.redis.hgetall(self.keys.meter(meter)))
        return fields

    def latest(self, meter: str) -> Latest | None:
        last, live = cast(list[str | None],
                          self.redis.hmget(self.keys.meter(meter), ["last", "live"]))
        return parse_last(meter, last, live)

    def note_tamper_cleared(self, meter: str) -> None:
        """An operator cleared the tamper alert: only a new event raises another."""
        fields = self.summary_fields(meter)
        if fields:
            tamper = flags_from_summary(fields).tamper
            self.redis.hset(self.keys.meter(meter), "tamper_cleared", tamper)

    def history(self, meter: str, limit: int) -> list[Reading]:
        """The meter's ``limit`` latest readings by seq, oldest first."""
        latest = self.latest(meter)
        if latest is None:
            return []
        kind, latest_block = latest.reading.kind, latest.reading.seq // RAW_BLOCK
        readings: list[Reading] = []
        block = latest_block
        # walk back block by block; a few missing blocks (gaps) do not stop the walk
        while len(readings) < limit and block >= 0 and latest_block - block < limit // 64 + 3:
            text = cast(str | None, self.redis.get(self.keys.raw(meter, block)))
            readings[:0] = parse_block(meter, kind, block, text)
            block -= 1
        return readings[-limit:]

    def readings_between(self, meter: str, start: float, end: float,
                         limit: int) -> list[Reading]:
        """Raw readings with time in [start, end), oldest first, at most ``limit``."""
        latest = self.latest(meter)
        if latest is None:
            return []
        kind = latest.reading.kind
        found: list[Reading] = []
        block = latest.reading.seq // RAW_BLOCK
        misses = 0
        while block >= 0 and misses < 3:
            chunk = parse_block(meter, kind, block, cast(
                str | None, self.redis.get(self.keys.raw(meter, block))))
            block -= 1
            if not chunk:
                misses += 1
                continue
            misses = 0
            found[:0] = [r for r in chunk if start <= r.time < end]
            if chunk[0].time < start:
                break
        return found[:limit]

    def stats(self) -> dict[str, Any]:
        raw = cast(dict[str, str], self.redis.hgetall(self.keys.stats))
        rejected = {
            k.removeprefix(STAT_REJECTED_PREFIX): int(v)
            for k, v in raw.items()
            if k.startswith(STAT_REJECTED_PREFIX)
        }
        return {
            "stored": int(raw.get(STAT_STORED, 0)),
            "duplicates": int(raw.get(STAT_DUPLICATES, 0)),
            "stale": int(raw.get(STAT_STALE, 0)),
            "rejected": rejected,
            "rejected_total": sum(rejected.values()),
            "meters": int(self.redis.scard(self.keys.meters)),
        }
