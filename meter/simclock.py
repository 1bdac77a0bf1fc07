"""Simulated time: a start instant and a speed (``--speed 3600``: an hour a second)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class SimClock:
    start: float  # simulated epoch seconds at the origin
    speed: float = 1.0
    monotonic: Callable[[], float] = time.monotonic
    origin: float = field(init=False)

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError("the simulation speed must be positive")
        self.origin = self.monotonic()

    def restart(self) -> None:
        """Simulated time is ``start`` again now (a run's first moment)."""
        self.origin = self.monotonic()

    def now(self) -> float:
        return self.start + (self.monotonic() - self.origin) * self.speed

    def wall_seconds_until(self, simulated: float) -> float:
        return (simulated - self.now()) / self.speed
