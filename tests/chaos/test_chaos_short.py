"""The fault suite in short, for `make test`: three drills of `make chaos`, shortened.

Each starts its own region (Mosquitto, Redis with AOF everysec, a fog node process),
publishes 20,000 distinct readings with a publisher that records every PUBACK, injects
its fault while they flow, and counts by (meter, seq) what Redis holds: nothing the
broker acknowledged may be missing, nothing may be stored twice, and the fog's rankings
must match the consumption recomputed from the stored readings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nevoa_chaos import DrillOptions, run_drill

pytestmark = pytest.mark.slow

SHORTENED: dict[str, dict[str, Any]] = {
    "fog-kill-9": {"kills": 2},
    "redis-kill-9": {"kills": 2},
    "redis-oom-30s": {"fault_seconds": 10.0},
}


@pytest.mark.parametrize("drill", list(SHORTENED))
def test_the_drill_loses_and_doubles_nothing(drill: str, tmp_path: Path) -> None:
    options = DrillOptions(readings=20_000, rate=2_000.0, settle_timeout=60.0,
                           workdir=tmp_path, **SHORTENED[drill])
    result = run_drill(drill, options)
    counted = (f"{drill}: {result.acknowledged} acknowledged, {result.lost} lost, "
               f"{result.duplicated} duplicated, recovery {result.recovery_s} s; {result.note}")
    assert result.acknowledged == result.readings, counted
    assert result.lost == 0, counted
    assert result.duplicated == 0, counted
    assert result.consumption_mismatches == 0, counted
    assert result.passed, counted
