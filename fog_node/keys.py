"""The Redis key layout of a region: the one place where keys are spelled.

    nv:{region}:m:{meter}:raw      sorted set, score = seq, member = "seq:time:register:rate"
                                   the meter's raw readings, newest ``raw_limit`` kept
    nv:{region}:m:{meter}:summary  hash: kind, seq, time, register, rate (latest reading),
                                   status (online/offline), status_time
    nv:{region}:meters             set of the meter ids seen in this region
    nv:{region}:stats              hash of counters: stored, duplicates, rejected:{reason}
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RegionKeys:
    region: str

    @property
    def prefix(self) -> str:
        return f"nv:{self.region}"

    def raw(self, meter: str) -> str:
        return f"{self.prefix}:m:{meter}:raw"

    def summary(self, meter: str) -> str:
        return f"{self.prefix}:m:{meter}:summary"

    @property
    def meters(self) -> str:
        return f"{self.prefix}:meters"

    @property
    def stats(self) -> str:
        return f"{self.prefix}:stats"


STAT_STORED = "stored"
STAT_DUPLICATES = "duplicates"
STAT_REJECTED_PREFIX = "rejected:"
