"""Helpers for the simulator's integration tests (this module holds no tests): a
fog-like collector on the real broker, and the simulator run as its own process."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from nevoa_core import topics
from nevoa_core.commands import CommandAck, decode_ack
from nevoa_core.senml import Reading, decode_pack
from tests.support import wait_until

REPO = Path(__file__).resolve().parents[2]


class Collector:
    """Subscribes (persistent session, QoS 1) to a region's readings, statuses and acks."""

    def __init__(self, host: str, port: int, region: str, name: str = "collector") -> None:
        self.region = region
        self.readings: dict[tuple[str, int], Reading] = {}
        self.deliveries = 0
        self.largest_pack = 0
        self.conflicts: list[tuple[Reading, Reading]] = []  # same (meter, seq), other content
        self.statuses: dict[str, str] = {}
        self.acks: list[CommandAck] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{name}-{region}",
                        clean_session=False)
        c.reconnect_delay_set(0.2, 1)
        c.on_connect = self._on_connect
        c.on_subscribe = lambda *_: self._subscribed.set()
        c.on_message = self._on_message
        c.connect(host, port, keepalive=30)
        c.loop_start()
        self.client = c
        assert self._subscribed.wait(10), "the collector could not subscribe"

    def _on_connect(self, c: mqtt.Client, *_: Any) -> None:
        c.subscribe([(topics.region_filter(self.region, ch), 1) for ch in topics.Channel])

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        where = topics.parse_meter_topic(msg.topic)
        with self._lock:
            if where.channel is topics.Channel.READING:
                pack = decode_pack(msg.payload, where.meter)
                self.largest_pack = max(self.largest_pack, len(pack))
                for r in pack:
                    self.deliveries += 1
                    known = self.readings.setdefault((r.meter, r.seq), r)
                    if known != r:
                        self.conflicts.append((known, r))
            elif where.channel is topics.Channel.STATUS:
                self.statuses[where.meter] = msg.payload.decode()
            elif where.channel is topics.Channel.COMMAND_ACK:
                self.acks.append(decode_ack(msg.payload))

    def count(self) -> int:
        with self._lock:
            return len(self.readings)

    def of(self, meter: str) -> list[Reading]:
        with self._lock:
            return sorted((r for r in self.readings.values() if r.meter == meter),
                          key=lambda r: r.seq)

    def seqs(self) -> dict[str, set[int]]:
        with self._lock:
            out: dict[str, set[int]] = defaultdict(set)
            for meter, seq in self.readings:
                out[meter].add(seq)
            return out

    def ack(self, command_id: str, outcome: str | None = None) -> CommandAck | None:
        with self._lock:
            return next((a for a in self.acks if a.id == command_id
                         and (outcome is None or a.outcome.value == outcome)), None)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Simulator:
    """``python -m meter`` as a child process, stopped with SIGTERM (or killed)."""

    def __init__(self, workdir: Path, host: str, port: int, region: str, *args: str) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.summary_path = workdir / "summary.json"
        self.log_path = workdir / "meter.log"
        self.argv = [sys.executable, "-m", "meter", "--region", region, "--broker-host", host,
                     "--broker-port", str(port), "--state-dir", str(workdir / "state"),
                     "--progress", "1", "--summary-json", str(self.summary_path), *args]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Simulator:
        self.summary_path.unlink(missing_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(self.argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return self

    def stop(self, timeout: float = 10.0) -> float:
        """SIGTERM; the seconds it took to exit."""
        assert self.proc is not None
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        assert code == 0, self.log()
        return time.monotonic() - began

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def summary(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.summary_path.read_text())
        return body

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def ensure_stopped(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def wait_for_readings(collector: Collector, n: int, timeout: float = 20.0) -> None:
    wait_until(lambda: collector.count() >= n, timeout=timeout, what=f"{n} readings")


def assert_exactly_the_produced_readings(collector: Collector, last_seq: dict[str, int]
                                         ) -> None:
    """Every seq each meter used arrived; nothing else did; no seq came with two contents."""
    got = collector.seqs()
    missing = {m: sorted(set(range(1, s + 1)) - got.get(m, set()))[:10]
               for m, s in last_seq.items() if set(range(1, s + 1)) - got.get(m, set())}
    assert not missing, f"readings that never arrived: {missing}"
    extra = {m: sorted(s - set(range(1, last_seq.get(m, 0) + 1))) for m, s in got.items()
             if s - set(range(1, last_seq.get(m, 0) + 1))}
    assert not extra, f"readings nobody produced: {extra}"
    assert not collector.conflicts, f"a seq was used twice: {collector.conflicts[:3]}"
