"""The fog process's own counters, and the Prometheus text that exposes them.

Process counters (this process's ingest) sit beside the region's counters from Redis
(every fog process of the region together), so a dashboard can tell both apart.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

BATCH_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2000, 5000)
DELAY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)


@dataclass
class Histogram:
    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.buckets)

    def observe(self, value: float) -> None:
        self.count += 1
        self.total += value
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1
                break

    def lines(self, name: str, labels: str) -> list[str]:
        out, running = [], 0
        for bound, n in zip(self.buckets, self.counts, strict=True):
            running += n
            out.append(f'{name}_bucket{{{labels},le="{bound:g}"}} {running}')
        out += [f'{name}_bucket{{{labels},le="+Inf"}} {self.count}',
                f"{name}_sum{{{labels}}} {self.total:.6f}",
                f"{name}_count{{{labels}}} {self.count}"]
        return out


class IngestMetrics:
    """Updated by the writer thread only; read by the HTTP thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started = time.time()
        self.messages = 0
        self.stored = 0
        self.duplicates = 0
        self.stale = 0
        self.rejected: Counter[str] = Counter()
        self.batch_size = Histogram(BATCH_BUCKETS)
        self.ack_delay = Histogram(DELAY_BUCKETS)  # from socket read to PUBACK sent
        self.queued = 0  # messages read but not yet stored
        self.reading_age = 0.0  # now - time of the newest reading of the last batch
        self.redis_errors = 0
        self._rate_window: list[tuple[float, int]] = []

    def batch_written(self, messages: int, readings: int, stored: int, duplicates: int,
                      stale: int, rejects: Mapping[str, int], oldest_read: float,
                      newest_reading_time: float | None) -> None:
        now = time.monotonic()
        with self._lock:
            self.messages += messages
            self.stored += stored
            self.duplicates += duplicates
            self.stale += stale
            self.rejected.update(rejects)
            self.batch_size.observe(readings)
            self.ack_delay.observe(now - oldest_read)
            if newest_reading_time is not None:
                self.reading_age = max(0.0, time.time() - newest_reading_time)
            self._rate_window.append((now, self.stored))
            while self._rate_window and now - self._rate_window[0][0] > 10:
                self._rate_window.pop(0)

    def ingest_rate(self) -> float:
        """Readings stored per second over the last ~10 s."""
        with self._lock:
            if len(self._rate_window) < 2:
                return 0.0
            (t0, n0), (t1, n1) = self._rate_window[0], self._rate_window[-1]
            return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0

    def prometheus(self, region: str, region_stats: Mapping[str, object],
                   extra: Mapping[str, float], store_errors: Mapping[str, int] | None = None
                   ) -> str:
        r = f'region="{region}"'
        lines = [
            "# HELP nevoa_fog_messages_total MQTT messages this process received and acked",
            "# TYPE nevoa_fog_messages_total counter",
            f"nevoa_fog_messages_total{{{r}}} {self.messages}",
            "# TYPE nevoa_fog_readings_stored_total counter",
            f"nevoa_fog_readings_stored_total{{{r}}} {self.stored}",
            "# TYPE nevoa_fog_duplicates_total counter",
            f"nevoa_fog_duplicates_total{{{r}}} {self.duplicates}",
            "# TYPE nevoa_fog_stale_total counter",
            f"nevoa_fog_stale_total{{{r}}} {self.stale}",
            "# HELP nevoa_fog_rejected_total messages rejected by this process, by reason",
            "# TYPE nevoa_fog_rejected_total counter",
            *(f'nevoa_fog_rejected_total{{{r},reason="{k}"}} {v}'
              for k, v in sorted(self.rejected.items())),
            "# HELP nevoa_fog_ingest_rate readings stored per second, last 10 s",
            "# TYPE nevoa_fog_ingest_rate gauge",
            f"nevoa_fog_ingest_rate{{{r}}} {self.ingest_rate():.1f}",
            "# HELP nevoa_fog_batch_readings readings per Redis round trip",
            "# TYPE nevoa_fog_batch_readings histogram",
            *self.batch_size.lines("nevoa_fog_batch_readings", r),
            "# HELP nevoa_fog_ack_delay_seconds from reading a message to acknowledging it",
            "# TYPE nevoa_fog_ack_delay_seconds histogram",
            *self.ack_delay.lines("nevoa_fog_ack_delay_seconds", r),
            "# HELP nevoa_fog_queued_messages received, not yet stored (ingest lag)",
            "# TYPE nevoa_fog_queued_messages gauge",
            f"nevoa_fog_queued_messages{{{r}}} {self.queued}",
            "# HELP nevoa_fog_reading_age_seconds now minus the newest stored reading's time",
            "# TYPE nevoa_fog_reading_age_seconds gauge",
            f"nevoa_fog_reading_age_seconds{{{r}}} {self.reading_age:.3f}",
            "# HELP nevoa_fog_redis_errors_total failed writes to Redis, retried (all kinds)",
            "# TYPE nevoa_fog_redis_errors_total counter",
            f"nevoa_fog_redis_errors_total{{{r}}} {self.redis_errors}",
            "# HELP nevoa_fog_store_faults_total failed writes by what Redis said",
            "# TYPE nevoa_fog_store_faults_total counter",
            *(f'nevoa_fog_store_faults_total{{{r},fault="{k}"}} {v}'
              for k, v in sorted((store_errors or {}).items())),
        ]
        lines += _region_lines(r, region_stats)
        for name, value in extra.items():
            lines += [f"# TYPE {name} gauge", f"{name}{{{r}}} {value:g}"]
        return "\n".join(lines) + "\n"


def _region_lines(r: str, stats: Mapping[str, object]) -> list[str]:
    lines = ["# HELP nevoa_region_readings_stored_total every fog process of the region",
             "# TYPE nevoa_region_readings_stored_total counter",
             f"nevoa_region_readings_stored_total{{{r}}} {stats.get('stored', 0)}",
             "# TYPE nevoa_region_duplicates_total counter",
             f"nevoa_region_duplicates_total{{{r}}} {stats.get('duplicates', 0)}",
             "# TYPE nevoa_region_rejected_total counter"]
    rejected = stats.get("rejected", {})
    if isinstance(rejected, Mapping):
        lines += [f'nevoa_region_rejected_total{{{r},reason="{k}"}} {v}'
                  for k, v in sorted(rejected.items())]
    lines += ["# TYPE nevoa_region_meters gauge",
              f"nevoa_region_meters{{{r}}} {stats.get('meters', 0)}"]
    return lines
