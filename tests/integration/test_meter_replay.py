"""The replay window on a real Mosquitto: a broker killed (-9) before its autosave forgets
the readings it had acknowledged - the meters send them again after the reconnect, and
the fog (de-duplicating by (meter, seq)) ends up with every reading; without the window
they are gone.

The broker here saves its database only on a clean stop (``autosave_interval`` an hour),
so a kill loses everything it acknowledged since it started. The stand-in for the fog
connects with a persistent session *before* the meters start, and the broker is then
restarted cleanly once: that saves the session (and its subscription), so after the kill
the restarted broker queues for it whatever the meters send, whoever reconnects first.
(A clean subscriber would have to resubscribe before the first meter reconnects - a race
the test would sometimes lose, with nothing to do with the meters.) The fog is away while
the broker is killed - the readings waiting in its queue are what a crash takes: the case
of a fog node that is down, restarting or behind when the broker dies.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nevoa_stack.services import (
    MOSQUITTO_IMAGE,
    MosquittoBinary,
    Service,
    broker,
    docker_has_image,
)
from tests.integration.test_meter_support import Collector, Simulator
from tests.support import wait_until

METERS = 20
INTERVAL = 0.2  # 100 readings a second for the fleet
WINDOW = 6.0  # seconds: the fog is away for 2 s before the kill
FOG_AWAY = 2.0


NEVER_AUTOSAVE = "\n# only a clean stop saves (the last setting wins)\nautosave_interval 3600\n"


class ForgetfulMosquittoBinary(MosquittoBinary):
    """nevoa's dev Mosquitto, with an autosave an hour away."""

    def argv(self) -> list[str]:
        *command, conf = super().argv()  # [mosquitto, -c, the dev configuration]
        forgetful = self.workdir / "forgetful.conf"
        forgetful.write_text(Path(conf).read_text() + NEVER_AUTOSAVE)
        return [*command, str(forgetful)]


@pytest.fixture
def forgetful_broker(tmp_path: Path) -> Iterator[Service]:
    """A Mosquitto of the test's own that never autosaves (only a clean stop saves)."""
    workdir = tmp_path / "mosquitto"
    service: Service
    if docker_has_image(MOSQUITTO_IMAGE):
        service = broker(workdir, name="forgetful-mosquitto")
        conf = workdir / "mosquitto.conf"  # written now, mounted when the container starts
        conf.write_text(conf.read_text() + NEVER_AUTOSAVE)
    else:
        service = ForgetfulMosquittoBinary("forgetful-mosquitto", workdir, None)
    service.start()
    yield service
    try:
        service.stop()
    except Exception:  # left killed by a failed test: nothing else to do
        pass


def received(fogs: list[Collector]) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for fog in fogs:
        for meter, seqs in fog.seqs().items():
            out.setdefault(meter, set()).update(seqs)
    return out


def newest(seqs: dict[str, set[int]]) -> int:
    return min((max(s) for s in seqs.values()), default=0)


def missing(fogs: list[Collector], last_seq: dict[str, int]) -> dict[str, list[int]]:
    got = received(fogs)
    return {m: sorted(set(range(1, last + 1)) - got.get(m, set()))
            for m, last in last_seq.items() if set(range(1, last + 1)) - got.get(m, set())}


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "window"), [("per-meter", WINDOW), ("multiplexed", WINDOW),
                                              ("per-meter", 0.0)])
def test_a_broker_killed_before_its_autosave_loses_nothing_acknowledged(
        mode: str, window: float, tmp_path: Path, region: str,
        forgetful_broker: Service) -> None:
    mqtt = forgetful_broker
    fog = Collector(mqtt.host, mqtt.port, region, name="fog")
    fogs = [fog]
    mqtt.stop()  # a clean stop saves the fog's session: the only save this broker makes
    mqtt.start()
    wait_until(fog.client.is_connected, what="the fog back after the clean restart")
    sim = Simulator(tmp_path, mqtt.host, mqtt.port, region, "--mode", mode,
                    "--count", str(METERS), "--interval", str(INTERVAL), "--seed", "5",
                    "--replay-window", str(window), "--log-level", "DEBUG").start()
    try:
        wait_until(lambda: len(fog.seqs()) == METERS and fog.count() >= 1200, timeout=40,
                   what="readings flowing to the fog")
        fog.close()  # the fog goes away; the broker queues for it, in memory only
        before = {m: max(s) for m, s in fog.seqs().items()}
        time.sleep(FOG_AWAY)  # ~200 readings acknowledged to the meters meanwhile
        mqtt.kill()
        mqtt.start()  # same port, same data directory: the fog's session, nothing queued
        back = Collector(mqtt.host, mqtt.port, region, name="fog")
        fogs.append(back)
        beyond = max(before.values()) + int(2 * FOG_AWAY / INTERVAL)
        wait_until(lambda: newest(back.seqs()) > beyond, timeout=30,
                   what="readings made after the restart")
        if window:
            wait_until(lambda: not missing(fogs, {m: beyond for m in before}), timeout=30,
                       what="every reading up to the restart, replays included")
        sim.stop()
        summary = sim.summary()
        last_seq: dict[str, int] = summary["last_seq"]
        wait_until(lambda: all(max(received(fogs).get(m, {0})) == s for m, s in last_seq.items()),
                   timeout=15, what="each meter's last reading")
        assert summary["connections_lost"] >= (METERS if mode == "per-meter" else 1)
        assert not [c for f in fogs for c in f.conflicts], "a seq came with two contents"
        lost = missing(fogs, last_seq)
        if window:
            assert not lost, f"readings lost by the crash: {lost}"
            # they came again: duplicates at the fog, about window x rate of them, not all
            assert summary["replayed"] > 0
            assert sum(f.deliveries for f in fogs) > sum(last_seq.values())
            assert summary["replayed"] < sum(before.values()), "the window bounds replays"
        else:
            # the control: without the window the crash does lose what the broker had
            # acknowledged and not saved - every one of them older than what came after
            assert summary["replayed"] == 0
            assert sum(len(s) for s in lost.values()) >= 50, lost
            first_after = {m: min(s) for m, s in back.seqs().items()}
            assert all(max(s) < first_after[m] for m, s in lost.items()), (lost, first_after)
    finally:
        sim.ensure_stopped()
        for f in fogs:
            f.close()
