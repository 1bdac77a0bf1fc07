"""RegionStore: the fog node's Redis adapter. Keys come from :mod:`fog_node.keys`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import redis

from fog_node.keys import (
    STAT_DUPLICATES,
    STAT_REJECTED_PREFIX,
    STAT_STORED,
    RegionKeys,
)
from nevoa_core.kinds import Kind
from nevoa_core.senml import Reading

_KIND_BY_LETTER = {k.spec.letter: k for k in Kind}


@dataclass(frozen=True, slots=True)
class RecordResult:
    stored: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class MeterSummary:
    latest: Reading | None
    status: str | None  # "online" / "offline" from the meter's last will, None if unknown
    status_time: float | None


def _member(r: Reading) -> str:
    rate = "" if r.rate is None else repr(r.rate)
    return f"{r.seq}:{r.time!r}:{r.register!r}:{rate}"


def _from_member(meter: str, kind: Kind, member: str) -> Reading:
    seq, time, register, rate = member.split(":")
    return Reading(meter, int(seq), float(time), kind, float(register), float(rate) if rate else None)


class RegionStore:
    """A region's readings in Redis, written in batches of one round trip."""

    def __init__(self, client: redis.Redis, region: str, raw_limit: int = 4096) -> None:
        self._redis = client
        self.keys = RegionKeys(region)
        self.raw_limit = raw_limit
        source = resources.files("fog_node").joinpath("record_readings.lua").read_text()
        self._record_script = client.register_script(source)

    def record(
        self, readings: Sequence[Reading], rejects: Counter[str] | None = None
    ) -> RecordResult:
        """Store readings idempotently by (meter, seq) and count rejects, atomically."""
        keys: list[str] = []
        args: list[Any] = [self.raw_limit]
        for r in readings:
            keys += (self.keys.raw(r.meter), self.keys.summary(r.meter))
            rate = "" if r.rate is None else repr(r.rate)
            args += (r.meter, r.seq, _member(r), repr(r.time), repr(r.register), rate, r.kind.spec.letter)
        pipe = self._redis.pipeline(transaction=True)
        if readings:
            keys += (self.keys.meters, self.keys.stats)
            self._record_script(keys=keys, args=args, client=pipe)
        for reason, count in (rejects or {}).items():
            pipe.hincrby(self.keys.stats, STAT_REJECTED_PREFIX + reason, count)
        results = pipe.execute()
        if not readings:
            return RecordResult(0, 0)
        stored, duplicates = results[0]
        return RecordResult(int(stored), int(duplicates))

    def set_status(self, meter: str, status: str, at: float) -> None:
        self._redis.hset(self.keys.summary(meter), mapping={"status": status, "status_time": at})

    def summary(self, meter: str) -> MeterSummary | None:
        fields: dict[str, str] = self._redis.hgetall(self.keys.summary(meter))
        if not fields:
            return None
        latest = None
        if "seq" in fields:
            rate = fields.get("rate") or ""
            latest = Reading(
                meter,
                int(fields["seq"]),
                float(fields["time"]),
                _KIND_BY_LETTER[fields["kind"]],
                float(fields["register"]),
                float(rate) if rate else None,
            )
        status_time = fields.get("status_time")
        return MeterSummary(latest, fields.get("status"), float(status_time) if status_time else None)

    def history(self, meter: str, limit: int) -> list[Reading]:
        """The meter's ``limit`` latest readings by seq, oldest first."""
        kind_letter = self._redis.hget(self.keys.summary(meter), "kind")
        if kind_letter is None:
            return []
        members: Iterable[str] = self._redis.zrange(self.keys.raw(meter), -limit, -1)
        kind = _KIND_BY_LETTER[kind_letter]
        return [_from_member(meter, kind, m) for m in members]

    def meter_count(self) -> int:
        return int(self._redis.scard(self.keys.meters))

    def stats(self) -> dict[str, Any]:
        raw: dict[str, str] = self._redis.hgetall(self.keys.stats)
        rejected = {
            k.removeprefix(STAT_REJECTED_PREFIX): int(v)
            for k, v in raw.items()
            if k.startswith(STAT_REJECTED_PREFIX)
        }
        return {
            "stored": int(raw.get(STAT_STORED, 0)),
            "duplicates": int(raw.get(STAT_DUPLICATES, 0)),
            "rejected": rejected,
            "rejected_total": sum(rejected.values()),
            "meters": self.meter_count(),
        }
