"""Region aggregates read back from Redis: consumption per meter per period, the region's
total, mean and median, and the exact top-N (heaviest first, ties by meter id).

The ingest script keeps, per kind and per day and month, a sorted set of every meter's
consumption with score = -consumption in integer Wh or litres; ZRANGE then gives the
heaviest first with ties by meter id ascending, and the N-th value and the median are
read by rank: no scan, and no float drift however many increments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import redis

from fog_node.keys import RegionKeys
from nevoa_core.kinds import Kind
from nevoa_core.periods import Period, Step

RANKED_STEPS = (Step.DAY, Step.MONTH)
MILLI = 1000


class UnrankedPeriod(ValueError):
    """Region aggregates are kept per day and per month only."""


@dataclass(frozen=True, slots=True)
class RegionStats:
    kind: Kind
    meters: int  # meters of the kind that reported in the period
    total: float
    mean: float | None
    median: float | None


def _units(score: float) -> float:
    return round(-score / MILLI, 3) + 0.0  # + 0.0: no "-0.0"


class RegionAggregates:
    def __init__(self, client: redis.Redis, region: str) -> None:
        self.redis = client
        self.keys = RegionKeys(region)

    def _key(self, kind: Kind, period: Period) -> str:
        if period.step not in RANKED_STEPS:
            raise UnrankedPeriod(f"region aggregates are kept per day and per month, not per "
                                 f"{period.step.value}")
        return self.keys.top(kind.spec.letter, period.step.value, period.label)

    def consumption(self, kind: Kind, period: Period, meters: Sequence[str]
                    ) -> dict[str, float | None]:
        """Each meter's consumption in the period (None: no reading in it)."""
        if not meters:
            return {}
        scores = self.redis.zmscore(self._key(kind, period), list(meters))
        return {m: None if s is None else _units(s) for m, s in zip(meters, scores, strict=True)}

    def stats(self, kind: Kind, period: Period) -> RegionStats:
        key = self._key(kind, period)
        field = self.keys.total_field(kind.spec.letter, period.step.value, period.label)
        pipe = self.redis.pipeline(transaction=True)
        pipe.zcard(key)
        pipe.hget(self.keys.totals, field)
        count, total_milli = pipe.execute()
        total = int(total_milli or 0) / MILLI
        if not count:
            return RegionStats(kind, 0, round(total, 3), None, None)
        middle = count // 2
        ranks = [middle] if count % 2 else [middle - 1, middle]
        pipe = self.redis.pipeline(transaction=False)
        for rank in ranks:
            pipe.zrange(key, rank, rank, withscores=True)
        values = [_units(found[0][1]) for found in pipe.execute() if found]
        median = round(sum(values) / len(values), 3) if values else None
        return RegionStats(kind, int(count), round(total, 3), round(total / count, 3), median)

    def top(self, kind: Kind, period: Period, n: int) -> list[tuple[str, float]]:
        """The ``n`` heaviest consumers: consumption descending, ties by meter id."""
        if n <= 0:
            return []
        found = cast(list[tuple[str, float]],
                     self.redis.zrange(self._key(kind, period), 0, n - 1, withscores=True))
        return [(meter, _units(score)) for meter, score in found]

    def status_counts(self) -> tuple[int, int, int]:
        """(meters with readings, online, offline)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.scard(self.keys.meters)
        pipe.scard(self.keys.online)
        pipe.scard(self.keys.offline)
        meters, online, offline = pipe.execute()
        return int(meters), int(online), int(offline)
