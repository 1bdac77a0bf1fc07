"""The fuzz budget: ``NEVOA_FUZZ_EXAMPLES`` inputs in all (10,000 unless told), shared
evenly by the fuzz tests through the ``nevoa-fuzz`` hypothesis profile.

``make test`` runs the default share; ``make fuzz`` runs 100,000 or more. The profile
is applied by each fuzz test (``@FUZZ``), never loaded globally, so the other property
tests of the suite keep their own settings. At the end pytest prints how many inputs
really ran (hypothesis stops early when a strategy has no more distinct inputs).
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings

from tests.fuzz.support import FUZZ_TESTS, INPUTS, PROFILE

TOTAL = int(os.environ.get("NEVOA_FUZZ_EXAMPLES", "10000"))
SHARE = max(1, -(-TOTAL // FUZZ_TESTS))  # rounded up: the total is at least what was asked

settings.register_profile(
    PROFILE,
    max_examples=SHARE,
    # a guard against hangs, loose enough for a loaded CI machine (inputs take microseconds)
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.large_base_example],
    print_blob=True,
)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not INPUTS:
        return
    ran = sum(INPUTS.values())
    terminalreporter.write_line(
        f"fuzz: {ran:,} inputs ran in {len(INPUTS)} fuzz tests "
        f"(NEVOA_FUZZ_EXAMPLES={TOTAL:,}: {SHARE:,} examples each)")
    if len(INPUTS) > FUZZ_TESTS:
        terminalreporter.write_line(
            f"fuzz: {len(INPUTS)} fuzz tests ran but tests/fuzz/support.py counts "
            f"FUZZ_TESTS={FUZZ_TESTS}: update it so the budget is shared right")
