"""What a running fleet has done so far: counters, the live line and the final summary."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(slots=True)
class Counters:
    produced: int = 0  # readings made (silent meters make none)
    sent_live: int = 0  # readings sent as soon as they were made
    sent_backlog: int = 0  # readings sent from the on-disk buffer
    backlog_packs: int = 0
    acknowledged: int = 0  # readings whose PUBACK came back (a replayed one again)
    buffered: int = 0  # readings that went to the on-disk buffer
    dropped: int = 0  # readings discarded by a full buffer
    replayed: int = 0  # acknowledged readings sent again after a reconnect (replay window)
    connections_lost: int = 0
    connect_failures: int = 0
    command_errors: int = 0
    commands: Counter[str] = field(default_factory=Counter)  # outcome -> count


@dataclass(frozen=True, slots=True)
class Snapshot:
    counters: Counters
    meters: int
    connected: int
    connections: int
    backlog: int  # readings waiting in buffers now
    sim_time: float
    lag: float  # wall seconds the schedule is behind

    def as_dict(self) -> dict[str, Any]:
        c = asdict(self.counters)
        c["commands"] = dict(self.counters.commands)
        return {"meters": self.meters, "connected": self.connected,
                "connections": self.connections, "backlog": self.backlog,
                "sim_time": self.sim_time, "lag": round(self.lag, 3), **c}


def _sim(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")


class Progress:
    """Rates between calls and the one-line summary."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.started = time.monotonic()
        self._last_time = self.started
        self._last_acked = 0

    def line(self, s: Snapshot) -> str:
        now = time.monotonic()
        rate = (s.counters.acknowledged - self._last_acked) / max(1e-6, now - self._last_time)
        self._last_time, self._last_acked = now, s.counters.acknowledged
        c = s.counters
        parts = [
            f"{self.label} sim {_sim(s.sim_time)}",
            f"connected {s.connected}/{s.connections}",
            f"published {c.sent_live + c.sent_backlog:,}",
            f"acked {c.acknowledged:,} ({rate:,.0f}/s)",
            f"buffered {s.backlog:,}",
            f"dropped {c.dropped:,}",
            *([f"replayed {c.replayed:,}"] if c.replayed else []),
            f"commands acked {sum(c.commands.values())}",
            f"errors {c.connect_failures + c.command_errors}",
        ]
        if s.lag > 1.0:
            parts.append(f"behind {s.lag:.1f}s")
        return " | ".join(parts)

    def summary(self, s: Snapshot) -> str:
        c = s.counters
        elapsed = time.monotonic() - self.started
        return "\n".join([
            f"{self.label} stopped after {elapsed:.1f}s (simulated time {_sim(s.sim_time)})",
            f"  meters {s.meters}, connections {s.connections}",
            f"  readings produced {c.produced:,}: sent live {c.sent_live:,}, from the buffer "
            f"{c.sent_backlog:,} in {c.backlog_packs:,} packs, acknowledged {c.acknowledged:,}"
            f" ({c.acknowledged / max(elapsed, 1e-6):,.0f}/s)",
            f"  buffered {c.buffered:,} (still waiting on disk {s.backlog:,}), "
            f"dropped by a full buffer {c.dropped:,}",
            f"  connections lost {c.connections_lost}, failed attempts {c.connect_failures}, "
            f"readings replayed after reconnects {c.replayed:,}",
            "  commands " + (", ".join(f"{k} {v}" for k, v in sorted(c.commands.items()))
                             or "none") + f", undecodable {c.command_errors}",
        ])
