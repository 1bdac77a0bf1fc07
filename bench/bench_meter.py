"""Benchmark of the meter simulator: meters per process, readings per second, memory per
meter and CPU, in both connection modes, next to a bare paho publisher in the same run.

    .venv/bin/python bench/bench_meter.py            # ~3-4 min
    .venv/bin/python bench/bench_meter.py --quick    # one round each, ~1.5 min

It starts its own Mosquitto (nevoa_stack.services) and runs ``python -m meter`` as a
child, as an operator would. Cases:

* baseline - one paho client publishing single-reading packs, QoS 1, 1,000 in flight:
  the most one Python MQTT connection moves on this machine right now;
* saturated throughput - more readings due than the process can send: multiplexed
  (10,000 meters every 0.5 s) and per meter (2,000 connections every 0.2 s);
  readings acknowledged by the broker per second of run, median of the rounds;
* 10,000 meters at a real meter's pace (every 15 s) in each mode: time to connect
  them all, CPU share of one core, resident memory and memory per meter (the marginal
  cost over a 100-meter process).

The machine is shared and noisy: compare the ratios to the baseline, not the absolutes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nevoa_stack.services import Service, broker

REPO = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")
PAYLOAD = (b'[{"bn":"urn:dev:mtr:b1-e000001:","bt":1763600000.123,"n":"energy","u":"kWh",'
           b'"s":1234.567},{"n":"seq","v":17},{"n":"power","u":"W","v":450.1}]')


def bare_publisher(service: Service, messages: int) -> float:
    """Messages per second of one paho client, QoS 1, a window of 1,000."""
    window = threading.BoundedSemaphore(1000)
    done = threading.Event()
    acked = [0]

    def on_publish(*_: object) -> None:
        window.release()
        acked[0] += 1
        if acked[0] == messages:
            done.set()

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare")
    c.max_inflight_messages_set(1000)
    c.on_publish = on_publish
    c.connect(service.host, service.port)
    c.loop_start()
    time.sleep(0.2)
    began = time.perf_counter()
    for i in range(messages):
        window.acquire()
        c.publish(f"nevoa/b0/meters/b0-e{i % 10_000:06d}/reading", PAYLOAD, qos=1)
    done.wait(120)
    rate = messages / (time.perf_counter() - began)
    c.disconnect()
    c.loop_stop()
    return rate


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Run:
    """One simulator process; samples CPU and memory from ``measure_from`` seconds on."""

    def __init__(self, service: Service, workdir: Path, region: str, mode: str, count: int,
                 interval: float, duration: float, measure_from: float) -> None:
        self.summary_path = workdir / f"{region}.json"
        argv = [sys.executable, "-m", "meter", "--region", region, "--mode", mode,
                "--count", str(count), "--interval", str(interval), "--seed", "1",
                "--broker-host", service.host, "--broker-port", str(service.port),
                "--state-dir", str(workdir / region), "--duration", str(duration),
                "--progress", "0", "--log-level", "WARNING",
                "--summary-json", str(self.summary_path)]
        self.proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL)
        time.sleep(measure_from)
        cpu0, t0 = cpu_seconds(self.proc.pid), time.monotonic()
        time.sleep(max(0.5, duration - measure_from - 1.0))
        self.cpu_share = (cpu_seconds(self.proc.pid) - cpu0) / (time.monotonic() - t0)
        self.rss = rss_mb(self.proc.pid)
        if self.proc.wait(duration + 60) != 0:
            raise RuntimeError(f"the simulator failed ({region})")
        self.summary = json.loads(self.summary_path.read_text())

    @property
    def acked_per_second(self) -> float:
        return float(self.summary["acknowledged"]) / float(self.summary["run_seconds"])


def saturated(service: Service, workdir: Path, mode: str, count: int, interval: float,
              rounds: int, duration: float) -> tuple[float, float]:
    rates, rss = [], []
    for n in range(rounds):
        run = Run(service, workdir, f"s{mode[0]}{n}", mode, count, interval, duration,
                  measure_from=duration / 2)
        rates.append(run.acked_per_second)
        rss.append(run.rss)
    return statistics.median(rates), statistics.median(rss)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round of each case")
    a = parser.parse_args()
    rounds = 1 if a.quick else 3
    workdir = Path(tempfile.mkdtemp(prefix="nevoa-bench-meter-"))
    service = broker(workdir / "mosquitto", name="bench-mosquitto")
    service.start()
    try:
        print(f"machine: {os.cpu_count()} cores, load average "
              f"{os.getloadavg()[0]:.1f} at the start (the figures move with it)")
        base = statistics.median(bare_publisher(service, 20_000) for _ in range(rounds))
        print(f"baseline  bare paho publisher, 1 connection, QoS 1: {base:,.0f} msg/s "
              f"(median of {rounds})")

        mux, mux_rss = saturated(service, workdir, "multiplexed", 10_000, 0.5, rounds, 10)
        print(f"saturated multiplexed, 10,000 meters every 0.5 s: {mux:,.0f} readings/s "
              f"acknowledged = {mux / base:.2f} x baseline; RSS {mux_rss:.0f} MB")
        per, per_rss = saturated(service, workdir, "per-meter", 2_000, 0.2, rounds, 12)
        print(f"saturated per-meter, 2,000 connections every 0.2 s: {per:,.0f} readings/s "
              f"acknowledged = {per / base:.2f} x baseline; RSS {per_rss:.0f} MB")

        print("10,000 meters reading every 15 s (667 readings/s due):")
        for mode in ("multiplexed", "per-meter"):
            small = Run(service, workdir, f"b{mode[0]}", mode, 100, 15, 8, measure_from=4)
            big = Run(service, workdir, f"r{mode[0]}", mode, 10_000, 15, 45, measure_from=28)
            per_meter_kb = (big.rss - small.rss) * 1024 / 9_900
            connected = big.summary["all_connected_after"]
            print(f"  {mode:<11}  all connected after {connected or float('nan'):.1f} s, "
                  f"{big.acked_per_second:,.0f} readings/s acknowledged, CPU "
                  f"{big.cpu_share:.0%} of one core, RSS {big.rss:.0f} MB "
                  f"({per_meter_kb:.1f} KB per meter over a 100-meter process of "
                  f"{small.rss:.0f} MB), backlog left {big.summary['backlog']}")
        print(f"machine: load average {os.getloadavg()[0]:.1f} at the end")
    finally:
        service.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
