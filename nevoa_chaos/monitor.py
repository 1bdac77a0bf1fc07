"""Watching a drill: which acknowledged readings the region's Redis holds, and when.

A thread polls (every 0.2 s) the raw blocks of the meters that still have an acknowledged
reading not seen stored. A fault's **recovery** is the time from its end until the region
has caught up for good: every reading acknowledged before the fault ended is stored, and
from then on (until the next fault begins) no acknowledged reading waits longer than
:data:`LAG` to be stored (while readings flow the broker always holds some it has just
acknowledged: in transit, not missing). A fault after which some acknowledged reading
never arrives has no recovery (None). The final count reads Redis afresh
(:mod:`nevoa_chaos.count`); what this thread saw only times the recovery.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass

import redis

from nevoa_chaos.count import blocks_of, read_stored
from nevoa_chaos.publisher import RecordingPublisher
from nevoa_chaos.workload import KIND, Workload
from nevoa_core.kinds import Kind

log = logging.getLogger("nevoa.chaos.monitor")
LAG = 1.0  # seconds from PUBACK to stored that count as in transit, not missing


@dataclass(slots=True)
class Fault:
    label: str
    started: float  # time.monotonic()
    ended: float | None = None  # None while the fault lasts
    recovered_after: float | None = None  # seconds from ``ended`` until caught up for good
    frozen: bool = False  # a later fault began: this one's recovery is what it was then

    def as_dict(self, origin: float) -> dict[str, object]:
        ended = self.started if self.ended is None else self.ended
        return {"fault": self.label, "at_s": round(self.started - origin, 2),
                "lasted_s": round(ended - self.started, 2),
                "recovery_s": None if self.recovered_after is None
                else round(self.recovered_after, 2)}


class Monitor:
    def __init__(self, client: redis.Redis, workload: Workload, publisher: RecordingPublisher,
                 every: float = 0.2, kind: Kind = KIND) -> None:
        self.client = client
        self.workload = workload
        self.publisher = publisher
        self.every = every
        self.kind = kind
        self.faults: list[Fault] = []
        self.unstored: dict[int, float] = {}  # key -> first PUBACK time
        self.seen = 0  # acknowledged keys taken from the publisher so far
        self.seen_stored = 0
        self.polls = 0
        self.errors = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-monitor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def begin(self, label: str) -> Fault:
        """A fault starts now; the ones before it keep the recovery they reached."""
        fault = Fault(label, time.monotonic())
        with self._lock:
            for earlier in self.faults:
                earlier.frozen = True
            self.faults.append(fault)
        return fault

    def end(self, fault: Fault) -> None:
        """The fault is over now (the process started again, the limit lifted...)."""
        fault.ended = time.monotonic()

    def caught_up(self) -> bool:
        """Every reading acknowledged so far was seen stored (as of the last poll)."""
        return self.seen >= self.publisher.acked and not self.unstored

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.poll()
            except redis.RedisError:  # Redis down or loading: the next poll tries again
                self.errors += 1
            except Exception:  # e.g. a block the parser cannot read: counted, polled again
                log.exception("the monitor's poll failed")
                self.errors += 1

    def poll(self) -> None:
        began = time.monotonic()
        news = self.publisher.acks_since(self.seen)
        self.seen += len(news)
        for key, at in news:
            self.unstored.setdefault(key, at)
        w = self.workload
        wanted: dict[str, set[int]] = defaultdict(set)
        for key in self.unstored:
            wanted[w.meters[w.meter_index(key)]].add(w.seq(key))
        stored = read_stored(self.client, w.region,
                             {m: blocks_of(seqs) for m, seqs in wanted.items()}, self.kind)
        for key in [k for k in self.unstored
                    if stored.has(w.meters[w.meter_index(k)], w.seq(k))]:
            del self.unstored[key]
            self.seen_stored += 1
        self.polls += 1
        done = time.monotonic()
        oldest = min(self.unstored.values(), default=None)
        with self._lock:
            for fault in self.faults:
                if fault.frozen or fault.ended is None or began <= fault.ended:
                    continue
                behind = oldest is not None and (oldest <= fault.ended or began - oldest >= LAG)
                if behind:
                    fault.recovered_after = None  # not caught up (or behind again)
                elif fault.recovered_after is None:
                    fault.recovered_after = done - fault.ended
