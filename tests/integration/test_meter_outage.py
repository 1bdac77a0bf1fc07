"""Store-and-forward on a real Mosquitto: the broker goes away under load and comes back;
every reading produced meanwhile arrives exactly once after de-duplication by
(meter, seq), the backlog in multi-reading packs."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from nevoa_stack.services import Service
from tests.integration.test_meter_support import (
    Collector,
    Simulator,
    assert_exactly_the_produced_readings,
    wait_for_readings,
)
from tests.support import wait_until


@pytest.fixture
def broker(service_factory: Callable[[str], Service]) -> Service:
    """A broker of the test's own, to stop and start again under load."""
    return service_factory("mosquitto")


def caught_up(collector: Collector, meters: int, beyond: int) -> bool:
    seqs = collector.seqs()
    return len(seqs) == meters and all(len(s) == max(s) >= beyond for s in seqs.values())


@pytest.mark.parametrize("mode", ["per-meter", "multiplexed"])
def test_a_broker_outage_loses_nothing(mode: str, tmp_path: Path, region: str,
                                       broker: Service) -> None:
    collector = Collector(broker.host, broker.port, region)
    sim = Simulator(tmp_path, broker.host, broker.port, region, "--mode", mode,
                    "--count", "40", "--interval", "0.5", "--seed", "3").start()
    try:
        wait_for_readings(collector, 150)
        broker.stop()
        time.sleep(3)  # ~240 readings are produced while the broker is away
        broker.start()
        beyond = max(max(s) for s in collector.seqs().values()) + 8  # made after the outage
        wait_until(lambda: caught_up(collector, 40, beyond), timeout=30,
                   what="every meter's backlog and newer readings, without holes")
        assert sim.stop() < 2.5
        summary = sim.summary()
        assert summary["buffered"] > 200 and summary["sent_backlog"] >= 200
        assert summary["backlog"] == 0 and summary["dropped"] == 0
        wait_until(lambda: collector.count() >= sum(summary["last_seq"].values()), timeout=15,
                   what="every reading at the collector")
        assert_exactly_the_produced_readings(collector, summary["last_seq"])
        assert collector.largest_pack > 1, "the backlog travelled in multi-reading packs"
    finally:
        sim.ensure_stopped()
        collector.close()


@pytest.mark.slow
def test_a_full_buffer_drops_its_oldest_readings_and_counts_them(
        tmp_path: Path, region: str, broker: Service) -> None:
    collector = Collector(broker.host, broker.port, region)
    broker.stop()  # the meters start with no broker at all
    sim = Simulator(tmp_path, broker.host, broker.port, region, "--count", "2",
                    "--interval", "0.05", "--buffer-limit", "20").start()
    try:
        time.sleep(3)  # ~50 readings a meter, buffers of 20
        broker.start()
        wait_until(lambda: len(collector.seqs()) == 2, timeout=20, what="both meters")
        time.sleep(1)
        sim.stop()
        summary = sim.summary()
        assert summary["dropped"] > 10
        got = collector.seqs()
        wait_until(lambda: sum(len(s) for s in collector.seqs().values())
                   == summary["produced"] - summary["dropped"], what="what was not dropped")
        for meter, last in summary["last_seq"].items():
            assert max(got[meter]) == last  # the newest readings survive
            assert 1 not in got[meter]  # the oldest were dropped
        collector.close()
    finally:
        sim.ensure_stopped()
