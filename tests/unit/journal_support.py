"""What the meter journal's tests share: drain a meter's backlog as a connected meter."""

from __future__ import annotations

from meter.journal import PASS_EVERY, Journal
from nevoa_core.senml import Reading


def drain(j: Journal, i: int, now: float = 1000.0) -> list[Reading]:
    """Everything meter ``i`` would send, connected, replay passes included."""
    out: list[Reading] = []
    for _ in range(100):
        j.tick(now, lambda _m: True)
        now += PASS_EVERY
        while batch := j.take(i, 7):
            out.extend(batch)
        if not j.has(i):
            return out
    raise AssertionError("the backlog never drained")
