"""A fleet of simulated meters in one process, on one scheduler thread.

Meters are kept in a heap ordered by their next reading time, so thousands of meters
cost one thread and no busy loop. Each meter's first reading is jittered across the
interval so that a fleet does not publish in lock step.
"""

from __future__ import annotations

import heapq
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from meter.model import SimulatedMeter
from nevoa_core import topics
from nevoa_core.senml import encode_pack

log = logging.getLogger("nevoa.meter.fleet")

Publish = Callable[[str, bytes], object]


@dataclass(slots=True)
class FleetCounters:
    published: int = 0


class Fleet:
    def __init__(
        self,
        region: str,
        meters: Sequence[SimulatedMeter],
        interval: float,
        publish: Publish,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.region = region
        self.meters = list(meters)
        self.interval = interval
        self._publish = publish
        self._clock = clock
        self.counters = FleetCounters()
        jitter = rng or random.Random()
        start = clock()
        self._due = [(start + jitter.uniform(0, interval), i) for i in range(len(self.meters))]
        heapq.heapify(self._due)

    def publish_due(self, now: float) -> int:
        """Publish a reading for every meter due at ``now``; returns how many."""
        sent = 0
        while self._due and self._due[0][0] <= now:
            due, index = heapq.heappop(self._due)
            meter = self.meters[index]
            reading = meter.read(now)
            self._publish(topics.reading(self.region, meter.meter_id),
                          encode_pack(meter.meter_id, [reading]))
            sent += 1
            heapq.heappush(self._due, (max(due + self.interval, now), index))
        self.counters.published += sent
        return sent

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.publish_due(self._clock())
            if self._due:
                stop.wait(max(0.0, min(self._due[0][0] - self._clock(), 0.5)))


class FleetState:
    """Each meter's seq and register on disk, so a restarted simulator continues them."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self, meters: Sequence[SimulatedMeter]) -> None:
        if not self.path.exists():
            return
        saved = json.loads(self.path.read_text())
        for m in meters:
            if m.meter_id in saved:
                m.seq, m.register = int(saved[m.meter_id][0]), float(saved[m.meter_id][1])
        log.info("resumed %d meters from %s", sum(m.meter_id in saved for m in meters), self.path)

    def save(self, meters: Sequence[SimulatedMeter]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({m.meter_id: [m.seq, m.register] for m in meters}))
        os.replace(tmp, self.path)
