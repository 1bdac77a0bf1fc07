"""Keeping ``make run`` up: a child that dies is restarted, with exponential back-off.

One loop polls every child; a dead one is logged (how it ended, the end of its log)
and started again, on the same command line, so on the same port and data directory,
after a delay that doubles while it keeps dying and resets once it has stayed up.
"""

from __future__ import annotations

import logging
import textwrap
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

log = logging.getLogger("nevoa.stack")


@dataclass(frozen=True)
class Backoff:
    """Seconds to wait before a restart: ``first``, doubling up to ``cap`` while the
    child keeps dying; back to ``first`` once it stayed up ``reset_after`` seconds."""

    first: float = 1.0
    cap: float = 30.0
    reset_after: float = 60.0

    def delay(self, failures: int) -> float:
        """The wait before the restart that follows ``failures`` deaths in a row (1, 2, …)."""
        return min(self.cap, self.first * 2.0 ** min(max(failures, 1) - 1, 64))

    def failures_after(self, failures: int, uptime: float) -> int:
        """Deaths in a row, counting one more after ``uptime`` seconds up."""
        return 1 if uptime >= self.reset_after else failures + 1


class Child(Protocol):
    """What the supervisor needs of a child (:class:`~nevoa_stack.processes.ChildProcess`)."""

    name: str
    log_path: Path
    started_at: float
    stopped: bool

    @property
    def running(self) -> bool: ...

    def exit_status(self) -> str: ...

    def tail(self, lines: int = 15) -> str: ...

    def start_and_wait(self, timeout: float = 20.0) -> None: ...


@dataclass
class _Watch:
    child: Child
    restarts: int = 0  # since the stack started
    failures: int = 0  # in a row, for the back-off
    due: float | None = None  # monotonic time of the scheduled restart


def _seconds(value: float) -> str:
    return f"{value:g} s"


class Supervisor:
    """Restart whichever of ``children`` exits on its own (not stopped on purpose)."""

    def __init__(self, children: Iterable[Child], backoff: Backoff = Backoff(),
                 poll: float = 0.5, clock: Callable[[], float] = time.monotonic) -> None:
        self._watches = [_Watch(c) for c in children]
        self.backoff = backoff
        self.poll = poll
        self._clock = clock

    def run(self, stop: threading.Event) -> None:
        """Check the children every ``poll`` seconds until ``stop`` is set."""
        while not stop.wait(self.poll):
            self.check()

    def check(self) -> None:
        """One pass: schedule the restart of what died, restart what is due."""
        for w in self._watches:
            now = self._clock()
            if w.due is None:
                if not w.child.running and not w.child.stopped:
                    self._died(w, now)
            elif now >= w.due:
                self._restart(w)

    def _schedule(self, w: _Watch, uptime: float) -> float:
        w.failures = self.backoff.failures_after(w.failures, uptime)
        w.restarts += 1
        delay = self.backoff.delay(w.failures)
        w.due = self._clock() + delay
        return delay

    def _died(self, w: _Watch, now: float) -> None:
        c = w.child
        status = c.exit_status()
        delay = self._schedule(w, now - c.started_at)
        log.error("%s exited with %s; restarting in %s (restart %d)",
                  c.name, status, _seconds(delay), w.restarts)
        tail = c.tail(10)
        if tail:
            log.error("last lines of %s:\n%s", c.log_path, textwrap.indent(tail, "    "))

    def _restart(self, w: _Watch) -> None:
        c = w.child
        try:
            c.start_and_wait()
        except Exception as exc:  # it may fail again: back off further, keep the rest going
            delay = self._schedule(w, 0.0)
            log.error("%s did not come back (%s); retrying in %s (restart %d)",
                      c.name, str(exc).splitlines()[0].rstrip(":"), _seconds(delay), w.restarts)
            return
        w.due = None
        log.info("%s is running again (restart %d)", c.name, w.restarts)
