"""meter-kill-9-during-replay: the project's own meters, killed while they empty their
on-disk buffer.

A ``python -m meter`` fleet (per-meter connections, journal on disk, the meters' own
replay window) publishes live; the broker is stopped so that the meters buffer, started
again, and the meter process is killed (-9) while its progress lines show the buffer
emptying; it is started again on the same state directory and runs on live. Nothing is
known per PUBACK here, so the count is against what the meters produced: every seq from
1 to the last one each meter's state file records (``--summary-json`` of the final, clean
stop) must be stored once. Recovery: from the restart until the buffer is empty and no
meter has a hole below its highest stored seq.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from nevoa_chaos.count import consumption_mismatches, read_stored
from nevoa_chaos.drill import DrillOptions, DrillResult, fresh_workdir, wait_progressing
from nevoa_chaos.stack import DrillStack
from nevoa_chaos.workload import KIND
from nevoa_core.calendar import DEFAULT_TIMEZONE
from nevoa_core.ids import meter_id
from nevoa_stack.processes import ChildProcess

NAME = "meter-kill-9-during-replay"
METERS = 1000
INTERVAL = 1.0  # simulated = wall seconds between a meter's readings (speed 1)
_FIELDS = {name: re.compile(rf"{name} ([\d,]+)") for name in ("published", "acked", "buffered",
                                                             "dropped", "replayed")}
_CONNECTED = re.compile(r"connected (\d+)/(\d+)")


@dataclass(frozen=True, slots=True)
class MeterProgress:
    connected: int
    connections: int
    counters: dict[str, int]

    @property
    def buffered(self) -> int:
        return self.counters.get("buffered", 0)


def parse_progress(line: str) -> MeterProgress | None:
    up = _CONNECTED.search(line)
    if up is None or "buffered" not in line:
        return None
    counters = {k: int(m.group(1).replace(",", "")) for k, p in _FIELDS.items()
                if (m := p.search(line))}
    return MeterProgress(int(up.group(1)), int(up.group(2)), counters)


class MeterLog:
    """The meter process's progress lines, read from its log file as they come."""

    def __init__(self, process: ChildProcess) -> None:
        self.path = process.log_path
        self.mark()

    def mark(self) -> None:
        """From now on, only lines written after this call count."""
        self._offset = self.path.stat().st_size if self.path.exists() else 0

    def latest(self) -> MeterProgress | None:
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                text = f.read().decode(errors="replace")
        except OSError:
            return None
        found = [p for line in text.splitlines() if (p := parse_progress(line))]
        return found[-1] if found else None


def _wait(probe: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return True
        time.sleep(0.1)
    return False


def meter_kill_during_replay(options: DrillOptions) -> DrillResult:
    began = time.monotonic()
    workdir = fresh_workdir(options, NAME)
    stack = DrillStack(workdir, options.region)

    def say(message: str) -> None:
        options.report(f"  [{NAME} {time.monotonic() - began:6.1f}s] {message}")

    rate = METERS / INTERVAL
    live, outage = options.readings * 0.25 / rate, options.readings * 0.5 / rate
    ids = [meter_id(options.region, KIND.spec.letter, i + 1) for i in range(METERS)]
    summary = workdir / "meter-summary.json"
    argv = [sys.executable, "-m", "meter", "--region", options.region, "--count", str(METERS),
            "--interval", str(INTERVAL), "--state-dir", str(workdir / "meter-state"),
            "--broker-host", stack.broker.host, "--broker-port", str(stack.broker.port),
            "--progress", "0.2", "--seed", "7", "--summary-json", str(summary)]
    notes: list[str] = []
    failures: list[str] = []
    details: dict[str, object] = {}
    started: list[ChildProcess] = []
    try:
        stack.start()
        meters = ChildProcess("meter", argv, workdir / "meter.log",
                              env={"NEVOA_TIMEZONE": DEFAULT_TIMEZONE})
        meters.start()
        started.append(meters)
        progress = MeterLog(meters)
        say(f"{METERS:,} meters (per-meter connections) every {INTERVAL:g}s")
        if not _wait(lambda: (p := progress.latest()) is not None
                     and p.connected == METERS and p.counters.get("acked", 0) > 0, 60):
            failures.append("the meters did not all connect")
        time.sleep(live)
        stack.broker.stop()  # a clean stop: Mosquitto saves its database
        say(f"broker stopped for {outage:.0f}s: the meters buffer")
        time.sleep(outage)
        peak = (progress.latest() or MeterProgress(0, 0, {})).buffered
        progress.mark()
        stack.broker.start()
        say(f"broker started again; {peak:,} readings buffered")

        highest = [peak]  # meters still away keep buffering until the replay pass starts

        def replaying() -> bool:
            p = progress.latest()
            if p is None:
                return False
            highest[0] = max(highest[0], p.buffered)
            return p.connected > 0 and 0 < p.buffered < highest[0] * 0.95

        caught = _wait(replaying, 60)
        before_kill = progress.latest()
        fault_began = time.monotonic()
        meters.kill()
        fault_ended = time.monotonic()
        left = before_kill.buffered if before_kill else None
        say(f"meter process killed (-9) during its replay ({left} of {highest[0]:,} still "
            "buffered)"
            if caught else "meter process killed (-9): the replay was not caught in progress")
        if not caught:
            notes.append("the kill missed the replay (it ended first)")
        details["first_run_last_progress"] = before_kill.counters if before_kill else None
        meters = ChildProcess("meter", argv, workdir / "meter.log",
                              env={"NEVOA_TIMEZONE": DEFAULT_TIMEZONE})
        meters.start()
        started.append(meters)
        progress = MeterLog(meters)
        blocks = {m: range(0, int((time.monotonic() - began) * 4 / INTERVAL) // 128 + 2)
                  for m in ids}
        client = stack.redis_client()
        recovered: float | None = None

        def emptied() -> bool:
            p = progress.latest()
            return p is not None and not p.buffered and p.connected == METERS

        if not _wait(emptied, options.settle_timeout):
            failures.append("the restarted meters did not empty their buffer")

        def no_holes() -> tuple[bool, object]:
            nonlocal recovered
            stored = read_stored(client, options.region, blocks, KIND)
            holes = sum(max(c) - len(c) for c in stored.copies.values() if c)
            if holes == 0 and recovered is None:
                recovered = time.monotonic() - fault_ended
            return holes == 0, holes

        wait_progressing(no_holes, options.settle_timeout, every=0.3)
        time.sleep(live)
        meters.stop()  # SIGTERM: the summary with each meter's last seq
        final = json.loads(summary.read_text())
        last_seq: dict[str, int] = final["last_seq"]
        expected = {(m, s) for m, last in last_seq.items() for s in range(1, last + 1)}
        blocks = {m: range(0, last // 128 + 1) for m, last in last_seq.items()}

        def all_stored() -> tuple[bool, object]:
            stored = read_stored(client, options.region, blocks, KIND)
            missing = sum(1 for m, s in expected if not stored.has(m, s))
            return missing == 0, missing

        wait_progressing(all_stored, options.settle_timeout, every=0.3)
        crash = stack.fog_crashed()
        if crash:
            failures.append(crash)
        stored = read_stored(client, options.region, blocks, KIND)
        lost = sorted((m, s) for m, s in expected if not stored.has(m, s))
        mismatches = consumption_mismatches(client, options.region, stored.readings, KIND)
        if final.get("dropped"):
            notes.append(f"{final['dropped']:,} dropped by a full buffer (by design)")
        notes.append(f"counted against seqs 1..last of each meter's state file; "
                     f"second run: {final.get('acknowledged', 0):,} acked, "
                     f"{final.get('replayed', 0):,} replayed")
        details.update({"summary": {k: v for k, v in final.items() if k != "last_seq"},
                        "lost_sample": lost[:20], "fault": {
                            "at_s": round(fault_began - began, 2),
                            "recovery_s": None if recovered is None else round(recovered, 2)}})
        return DrillResult(NAME, len(expected), None, len(lost), stored.duplicated(ids),
                           recovered if not lost else None, len(mismatches), failures, notes,
                           round(time.monotonic() - began, 1), details)
    finally:
        for process in started:
            process.stop()
        stack.stop()
