"""Reconnection timing: exponential backoff with jitter, spread over the fleet."""

from __future__ import annotations

import random

from meter.connection import BACKOFF_CAP, reconnect_delay


def test_backoff_grows_is_capped_and_jittered() -> None:
    rng = random.Random(1)
    for failures, low, high in [(0, 0.5, 1.0), (1, 1.0, 2.0), (3, 4.0, 8.0),
                                (10, BACKOFF_CAP / 2, BACKOFF_CAP)]:
        delays = [reconnect_delay(failures, 0.0, rng) for _ in range(200)]
        assert low <= min(delays) and max(delays) <= high
        assert max(delays) - min(delays) > (high - low) / 2  # really spread


def test_a_fleet_spreads_its_returns() -> None:
    rng = random.Random(2)
    delays = sorted(reconnect_delay(0, 10.0, rng) for _ in range(10_000))
    assert delays[0] < 1.5 and delays[-1] > 10.0
    per_second = [sum(1 for d in delays if s <= d < s + 1) for s in range(1, 10)]
    assert max(per_second) < 1_500  # ~1,000 a second, not 10,000 at once
