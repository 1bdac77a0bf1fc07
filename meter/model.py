"""The behaviour of a simulated meter, free of I/O: its register, seq and consumption.

The energy seed's meter raises its cumulative register by a random 0-20 units every
second; :class:`SeedConsumption` is that rule. :class:`ScriptedConsumption` replays a
known sequence of period consumptions (tests and demos that need exact invoices).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from nevoa_core.kinds import Kind
from nevoa_core.senml import Reading


class Consumption(Protocol):
    def consumed(self, seconds: float, rng: random.Random) -> float:
        """How much the register grows over ``seconds``."""
        ...


@dataclass(frozen=True, slots=True)
class SeedConsumption:
    """0 to ``max_per_second`` units each second, uniformly at random (the energy seed)."""

    max_per_second: float = 20.0

    def consumed(self, seconds: float, rng: random.Random) -> float:
        whole = int(seconds)
        total = sum(rng.uniform(0.0, self.max_per_second) for _ in range(whole))
        return total + rng.uniform(0.0, self.max_per_second) * (seconds - whole)


class ScriptedConsumption:
    """Each reading's period consumes the next scripted amount; then nothing."""

    def __init__(self, amounts: Iterable[float]) -> None:
        self._amounts: Iterator[float] = iter(amounts)

    def consumed(self, seconds: float, rng: random.Random) -> float:
        return next(self._amounts, 0.0)


@dataclass(slots=True)
class SimulatedMeter:
    meter_id: str
    kind: Kind
    consumption: Consumption
    register: float = 0.0
    seq: int = 0
    last_time: float | None = None
    rng: random.Random = field(default_factory=random.Random)

    def read(self, now: float) -> Reading:
        """Advance the register to ``now`` and produce the next reading."""
        if self.last_time is not None:
            self.register = round(
                self.register + self.consumption.consumed(max(0.0, now - self.last_time), self.rng),
                3,
            )
        self.last_time = now
        self.seq += 1
        return Reading(self.meter_id, self.seq, round(now, 3), self.kind, self.register)
