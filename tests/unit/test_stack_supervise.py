"""The supervisor's back-off policy, and one supervisor pass on a fake child."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from nevoa_stack.supervise import Backoff, Supervisor


def test_the_delay_doubles_from_one_second_up_to_thirty() -> None:
    backoff = Backoff()
    assert [backoff.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 30, 30, 30]
    assert backoff.delay(10_000) == 30  # no overflow after a long crash loop


def test_deaths_in_a_row_count_up_until_the_child_stays_up_a_minute() -> None:
    backoff = Backoff()
    assert backoff.failures_after(0, uptime=0.3) == 1
    assert backoff.failures_after(3, uptime=59.9) == 4
    assert backoff.failures_after(5, uptime=60.0) == 1  # it had been fine: start over
    assert Backoff(first=0.5, cap=2, reset_after=5).delay(3) == 2


class FakeChild:
    def __init__(self) -> None:
        self.name = "fog-r1"
        self.log_path = Path("/logs/fog-r1.log")
        self.started_at = 0.0
        self.stopped = False
        self.running = True
        self.starts = 0
        self.fail_next = False

    def exit_status(self) -> str:
        return "signal 9 (SIGKILL)"

    def tail(self, lines: int = 15) -> str:
        return "ingest: 120 readings stored"

    def start_and_wait(self, timeout: float = 20.0) -> None:
        self.starts += 1
        if self.fail_next:
            raise RuntimeError("fog-r1 exited; see /logs/fog-r1.log:\nTraceback ...")
        self.running = True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_dead_child_is_logged_and_restarted_with_growing_delays(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "nevoa.stack")
    child, clock = FakeChild(), Clock()
    supervisor = Supervisor([child], clock=clock)
    child.started_at = clock.now
    clock.now += 5
    child.running = False
    supervisor.check()
    assert "fog-r1 exited with signal 9 (SIGKILL); restarting in 1 s (restart 1)" in caplog.text
    assert "ingest: 120 readings stored" in caplog.text  # the end of its log
    clock.now += 0.9
    supervisor.check()
    assert child.starts == 0  # not yet due
    child.fail_next = True
    clock.now += 0.1
    supervisor.check()
    assert child.starts == 1
    assert "fog-r1 did not come back (fog-r1 exited; see /logs/fog-r1.log); " \
        "retrying in 2 s (restart 2)" in caplog.text
    child.fail_next = False
    clock.now += 2
    supervisor.check()
    assert child.running and child.starts == 2
    assert "fog-r1 is running again (restart 2)" in caplog.text

    child.started_at = clock.now  # it dies again 3 s later: the back-off goes on
    clock.now += 3
    child.running = False
    supervisor.check()
    assert "restarting in 4 s (restart 3)" in caplog.text
    clock.now += 4
    supervisor.check()
    child.started_at = clock.now  # ... then stays up for two minutes: back to 1 s
    clock.now += 120
    child.running = False
    supervisor.check()
    assert "restarting in 1 s (restart 4)" in caplog.text


def test_a_child_stopped_on_purpose_stays_stopped() -> None:
    child = FakeChild()
    child.running, child.stopped = False, True
    supervisor = Supervisor([child], clock=Clock())
    supervisor.check()
    supervisor.check()
    assert child.starts == 0
