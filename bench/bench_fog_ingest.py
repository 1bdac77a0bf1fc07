"""Benchmark of the fog node's ingest: how fast one fog process drains a QoS 1 backlog
into Redis, next to a bare subscriber (no storage) on the same broker in the same run.

    .venv/bin/python bench/bench_fog_ingest.py                    # 200,000 x 3 rounds, ~2-3 min
    .venv/bin/python bench/bench_fog_ingest.py --messages 50000 --rounds 1   # quicker
    .venv/bin/python bench/bench_fog_ingest.py --tls              # + the same drains over TLS

It starts its own Mosquitto and Redis (nevoa_stack.services; Redis with AOF and fsync
every second, as ``make run`` runs it). Each round publishes ``--messages`` single-reading
SenML packs (QoS 1, ``--meters`` water meters with flow) while the bare subscriber's
and the fog node's persistent sessions are offline, so the whole backlog waits in the
broker; then the bare subscriber drains it (PUBACK per read, nothing else), then a real
``nevoa-fog`` process does (validate, one Lua call per batch into Redis, PUBACK after
the write, the alert judge running). It prints the rates with medians and ratios, lost
and duplicated counts, CPU per reading of each process, and Redis memory per reading
and per meter. A stock paho-mqtt subscriber drains a smaller backlog as the reference
for the choice of MQTT client.

With ``--tls`` the broker has a TLS listener (certificates from broker/gen_certs.py)
beside the plain one, and every round drains a second backlog, the same size, over TLS
(bare subscriber and fog process, both verifying the broker): the two are measured on
the same broker, sessions and Redis, interleaved so that load from elsewhere hits both.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import redis
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from fog_node import mqtt_wire as wire
from fog_node.keys import RegionKeys
from fog_node.mqtt_link import IngestLink, LinkSettings, tls_client_context
from nevoa_core import topics
from nevoa_core.kinds import Kind
from nevoa_core.senml import Reading, encode_pack
from nevoa_stack.processes import ChildProcess, free_port
from nevoa_stack.raw_publish import publish_all
from nevoa_stack.services import BrokerTls, Service, broker, generate_tls, redis_server

REGION = "bench"
TARGET = 60_000
TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Endpoint:
    """One listener of the benchmark's broker."""

    host: str
    port: int
    tls_ca: Path | None = None

    def link(self, client_id: str, topic_filter: str) -> LinkSettings:
        tls = tls_client_context(self.tls_ca) if self.tls_ca else None
        return LinkSettings(self.host, self.port, client_id, (topic_filter,), tls=tls)

    def fog_args(self) -> list[str]:
        tls = ["--tls-ca", str(self.tls_ca)] if self.tls_ca else []
        return ["--broker-host", self.host, "--broker-port", str(self.port), *tls]


def backlog(meters: int, count: int, round_no: int, region: str = REGION
            ) -> list[tuple[str, bytes]]:
    per_meter = -(-count // meters)
    start = time.time() - 3600
    out = []
    for i in range(count):
        m, k = i % meters, i // meters
        seq = round_no * per_meter + k + 1
        meter = f"{region}-w{m:06d}"
        reading = Reading(meter, seq, round(start + 15 * seq, 3), Kind.WATER,
                          round(100 + seq * 0.013 + m * 0.001, 3), 0.0002 * (1 + m % 7))
        out.append((topics.reading(region, meter), encode_pack(meter, [reading])))
    return out


def publish(host: str, port: int, messages: list[tuple[str, bytes]], window: int = 20_000) -> float:
    """QoS 1, every PUBACK awaited; returns messages per second."""
    return publish_all(host, port, messages, window, client_id="bench-pub")


class BareSubscriber:
    """The fog node's own MQTT link with nothing behind it: read, PUBACK, count."""

    def __init__(self, b: Endpoint, expected: int) -> None:
        self.expected = expected
        self.seen: set[bytes] = set()
        self.received = 0
        self.done = threading.Event()
        settings = b.link("bench-bare", topics.region_filter(REGION, topics.Channel.READING))
        self.link = IngestLink(settings, self._on)

    def _on(self, publishes: list[wire.Publish], generation: int) -> None:
        self.link.ack([p.mid for p in publishes if p.qos], generation)
        self.received += len(publishes)
        self.seen.update(p.payload for p in publishes)
        if self.received >= self.expected:
            self.done.set()

    def drain(self, timeout: float = 300) -> float:
        started = time.perf_counter()
        self.link.start()
        self.done.wait(timeout)
        took = time.perf_counter() - started
        self.link.stop()
        return self.received / took


def create_session(b: Endpoint, client_id: str, topic_filter: str) -> None:
    link = IngestLink(b.link(client_id, topic_filter), lambda p, g: None)
    link.start()
    if not link.connected.wait(10):
        raise RuntimeError(f"could not create the session {client_id}")
    link.stop()


def paho_drain(b: Endpoint, count: int) -> float:
    """Reference: stock paho-mqtt 2.x (callback API 2, MQTT 5), auto-ack, drains a backlog."""
    received, done = [0], threading.Event()

    def on_message(_c: mqtt.Client, _u: object, _m: mqtt.MQTTMessage) -> None:
        received[0] += 1
        if received[0] >= count:
            done.set()

    def client() -> mqtt.Client:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-paho", protocol=mqtt.MQTTv5)
        c.on_message = on_message
        c.on_connect = lambda c, _u, _f, _rc, _p: c.subscribe("nevoa/paho/meters/+/reading", 1)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        props.ReceiveMaximum = 20_000
        c.connect(b.host, b.port, clean_start=False, properties=props)
        return c

    c = client()
    c.loop_start()
    time.sleep(1)
    c.disconnect()
    c.loop_stop()
    publish(b.host, b.port, backlog(1000, count, 0, "paho"))
    started = time.perf_counter()
    c = client()
    c.loop_start()
    done.wait(300)
    took = time.perf_counter() - started
    c.disconnect()
    c.loop_stop()
    return received[0] / took


def cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def redis_cpu(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def fog_drain(workdir: Path, b: Endpoint, r: Service, client: redis.Redis, count: int,
              broker_pid: int | None, counted: str = "stored") -> dict[str, float]:
    """Start a fog process, let it drain the backlog until ``count`` more readings are
    ``counted`` (stored, or duplicates for a replay), stop it."""
    keys = RegionKeys(REGION)
    base = int(client.hget(keys.stats, counted) or 0)
    base_dup = int(client.hget(keys.stats, "duplicates") or 0)
    fog = ChildProcess("fog", [sys.executable, "-m", "fog_node", "--region", REGION,
                               *b.fog_args(), "--redis-url", r.url, "--http-port", str(free_port()),  # type: ignore[attr-defined]
                               "--client-id", "bench-fog", "--log-level", "WARNING"],
                       workdir / "fog.log")
    fog.start()
    samples: list[tuple[float, int]] = []
    cpu0 = None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        stored = int(client.hget(keys.stats, counted) or 0) - base
        now = time.perf_counter()
        if stored > 0 and cpu0 is None:
            pid = fog.proc.pid if fog.proc else None
            cpu0 = (cpu_seconds(pid), redis_cpu(client), cpu_seconds(broker_pid), now, stored)
        samples.append((now, stored))
        if stored >= count:
            break
        time.sleep(0.02)
    pid = fog.proc.pid if fog.proc else None
    cpu1 = (cpu_seconds(pid), redis_cpu(client), cpu_seconds(broker_pid))
    fog.stop()
    dups = int(client.hget(keys.stats, "duplicates") or 0) - base_dup
    stored = samples[-1][1]
    assert cpu0 is not None, f"the fog node stored nothing; see {fog.log_path}"
    first_t, first_n = cpu0[3], cpu0[4]
    t10 = next(t for t, n in samples if n >= count * 0.1)
    t90 = next(t for t, n in samples if n >= count * 0.9)
    readings = max(1, stored - first_n)
    return {
        "rate": (stored - first_n) / (samples[-1][0] - first_t),
        "sustained": 0.8 * count / (t90 - t10),
        "stored": stored, "duplicates": dups,
        "fog_us": (cpu1[0] - cpu0[0]) / readings * 1e6,
        "redis_us": (cpu1[1] - cpu0[1]) / readings * 1e6,
        "broker_us": (cpu1[2] - cpu0[2]) / readings * 1e6,
    }


def steady_memory(client: redis.Redis, meters: int = 500, per_meter: int = 400
                  ) -> tuple[float, float]:
    """Bytes per stored reading and per meter once raw blocks are complete (the backlog
    rounds give each meter only a few dozen readings): write ``per_meter`` readings to
    ``meters`` meters of another region through the store, 15 s apart, and compare."""
    from fog_node.store import IngestBatch, RegionStore

    store = RegionStore(client, "memory")
    start = time.time() - per_meter * 15

    def fleet(first: int, count: int) -> None:
        for k in range(first, first + count):
            store.record(IngestBatch(readings=[
                Reading(f"mem-w{m:05d}", k, start + 15 * k, Kind.WATER, 10 + k * 0.013 + m,
                        0.0002) for m in range(meters)]), now=start + 15 * k)

    used0 = int(client.info("memory")["used_memory"])
    fleet(1, 1)
    used1 = int(client.info("memory")["used_memory"])
    fleet(2, per_meter - 1)
    used2 = int(client.info("memory")["used_memory"])
    per_reading = (used2 - used1) / (meters * (per_meter - 1))
    return per_reading, (used1 - used0) / meters - per_reading


def latest_seqs_ok(client: redis.Redis, meters: int, expected_seq: int) -> int:
    """How many meters do not have the expected latest seq (0 when nothing was lost)."""
    keys = RegionKeys(REGION)
    pipe = client.pipeline(transaction=False)
    for m in range(meters):
        pipe.hget(keys.meter(f"{REGION}-w{m:06d}"), "last")
    wrong = 0
    for last in pipe.execute():
        if last is None or int(last.split(" ")[0]) != expected_seq:
            wrong += 1
    return wrong


Row = tuple[float, float, dict[str, float], int, int, int, int]


def print_tls_cost(plain: list[Row], tls: list[Row]) -> None:
    """Medians of the paired rounds: TLS against plain TCP, same broker, same backlog."""
    def med(rows: list[Row], key: str) -> float:
        return statistics.median(x[1] if key == "bare" else x[2][key] for x in rows)

    print(f"\nTLS cost, median over {len(tls)} paired rounds (plain -> TLS):")
    for key, what in (("bare", "bare subscriber drain"), ("rate", "fog process drain"),
                      ("sustained", "fog process sustained")):
        p, t = med(plain, key), med(tls, key)
        print(f"  {what:26} {p:9,.0f}/s -> {t:9,.0f}/s   TLS/plain = {t / p:.2f}")
    for key, what in (("fog_us", "fog process CPU/reading"), ("broker_us", "Mosquitto CPU/reading"),
                      ("redis_us", "Redis CPU/reading")):
        p, t = med(plain, key), med(tls, key)
        print(f"  {what:26} {p:9.1f} us -> {t:8.1f} us  ({t - p:+.1f} us)")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=200_000, help="backlog per round")
    p.add_argument("--meters", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--paho-messages", type=int, default=50_000,
                   help="backlog for the stock paho reference (0: skip)")
    p.add_argument("--no-aof", action="store_true",
                   help="Redis without persistence, to see what the AOF costs")
    p.add_argument("--tls", action="store_true",
                   help="every round also drains the same backlog over TLS: both rates and "
                   "the ratio, on one broker")
    a = p.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="nevoa-bench-fog-"))
    tls = None
    if a.tls:
        made = generate_tls(workdir / "tls", [REGION])[REGION]
        tls = BrokerTls(made.cafile, made.certfile, made.keyfile, plain_port=free_port())
    b = broker(workdir / "mosquitto", name="bench-mosquitto", tls=tls)
    r = redis_server(workdir / "redis", name="bench-redis", durable=not a.no_aof)
    b.start()
    r.start()
    client = redis.Redis.from_url(r.url, decode_responses=True)  # type: ignore[attr-defined]
    broker_process = getattr(getattr(b, "_process", None), "proc", None)
    broker_pid = broker_process.pid if broker_process is not None else None
    plain = Endpoint(b.host, tls.plain_port if tls and tls.plain_port else b.port)
    passes = [("plain", plain)] + ([("TLS", Endpoint(b.host, b.port, tls.cafile))] if tls else [])
    print(f"== fog ingest: {a.messages:,} QoS 1 readings backlog x {a.rounds} rounds"
          f"{' x (plain, TLS)' if tls else ''}, {a.meters:,} meters, {os.cpu_count()} cores, "
          f"Redis {'without persistence' if a.no_aof else 'AOF fsync everysec'}")
    rows: dict[str, list[Row]] = {
        name: [] for name, _ in passes}
    try:
        create_session(plain, "bench-bare", topics.region_filter(REGION, topics.Channel.READING))
        create_session(plain, "bench-fog", topics.region_filter(REGION, topics.Channel.READING))
        mem0 = int(client.info("memory")["used_memory"])
        per_meter = -(-a.messages // a.meters)
        drained = 0  # backlogs drained so far: each gets the next seq range
        for round_no in range(a.rounds):
            for name, endpoint in passes:
                messages = backlog(a.meters, a.messages, drained)
                pub_rate = publish(plain.host, plain.port, messages)
                bare = BareSubscriber(endpoint, a.messages)
                bare_rate = bare.drain()
                bare_lost = a.messages - len(bare.seen)
                bare_dup = bare.received - len(bare.seen)
                fog = fog_drain(workdir, endpoint, r, client, a.messages, broker_pid)
                drained += 1
                wrong = latest_seqs_ok(client, a.meters, drained * per_meter)
                lost = a.messages - fog["stored"]
                rows[name].append((pub_rate, bare_rate, fog, bare_lost, bare_dup, lost, wrong))
                print(f"round {round_no + 1}{f' {name:5}' if tls else ''}: publish "
                      f"{pub_rate:8,.0f}/s | bare drain {bare_rate:8,.0f}/s (lost {bare_lost}, "
                      f"dup {bare_dup}) | fog drain {fog['rate']:8,.0f}/s, sustained "
                      f"{fog['sustained']:8,.0f}/s (lost {lost}, dup {fog['duplicates']:.0f}, "
                      f"meters off {wrong}) | fog/bare {fog['rate'] / bare_rate:.2f}")
            if round_no == 0:
                mem1 = int(client.info("memory")["used_memory"])
        mem_end = int(client.info("memory")["used_memory"])
        # the price of the meters' replay window (README "Guarantees"): after a broker
        # crash every meter re-publishes what it sent in the window; the fog absorbs it as
        # duplicates. The last round again, every reading a duplicate:
        publish(plain.host, plain.port, messages)
        replay = fog_drain(workdir, plain, r, client, a.messages, broker_pid, "duplicates")
        steady = steady_memory(client)
        paho_rate = paho_drain(plain, a.paho_messages) if a.paho_messages else None
    finally:
        client.close()
        b.stop()
        r.stop()
    if tls:
        print_tls_cost(rows["plain"], rows["TLS"])
    rows_plain = rows["plain"]
    fog_rate = statistics.median(x[2]["rate"] for x in rows_plain)
    sustained = statistics.median(x[2]["sustained"] for x in rows_plain)
    bare_rate = statistics.median(x[1] for x in rows_plain)
    print(f"\nmedian over {len(rows_plain)} rounds{' (plain)' if tls else ''}: bare subscriber "
          f"{bare_rate:,.0f}/s, fog process {fog_rate:,.0f}/s (sustained {sustained:,.0f}/s): "
          f"fog/bare = {fog_rate / bare_rate:.2f}; target {TARGET:,}/s: "
          f"{fog_rate / TARGET:.2f} of it")
    every = [x for name in rows for x in rows[name]]
    print(f"lost {sum(x[5] for x in every)}, duplicated "
          f"{sum(x[2]['duplicates'] for x in every):.0f}, "
          f"meters with a wrong latest seq {sum(x[6] for x in every)}; bare subscriber lost "
          f"{sum(x[3] for x in every)}, duplicated {sum(x[4] for x in every)}")
    cpu = {k: statistics.median(x[2][k] for x in rows_plain)
           for k in ("fog_us", "redis_us", "broker_us")}
    print(f"CPU per stored reading (median): fog process {cpu['fog_us']:.1f} us, Redis "
          f"{cpu['redis_us']:.1f} us, Mosquitto {cpu['broker_us']:.1f} us "
          f"(sum {sum(cpu.values()):.1f} us for {os.cpu_count()} cores)")
    print(f"replay window (a round of {a.messages:,} readings re-published, all duplicates): "
          f"absorbed at {replay['rate']:,.0f}/s = {replay['rate'] / fog_rate:.2f}x the fresh "
          f"rate, {replay['fog_us']:.1f} us fog + {replay['redis_us']:.1f} us Redis CPU per "
          f"duplicate; a 30 s window of a region at 3,330 readings/s (100,000 meters, 2 "
          f"regions, 15 s) costs {30 * 3330 / replay['rate']:.1f} s of fog time per broker "
          f"restart, nothing in steady state")
    if paho_rate:
        print(f"reference: stock paho-mqtt subscriber drained {a.paho_messages:,} at "
              f"{paho_rate:,.0f}/s; the fog's link (bare) is {bare_rate / paho_rate:.1f}x faster")
    if a.rounds > 1:
        per_reading = (mem_end - mem1) / ((a.rounds - 1) * len(passes) * a.messages)
        per_meter_bytes = (mem1 - mem0 - per_reading * len(passes) * a.messages) / a.meters
        print(f"Redis memory in the rounds above: {per_reading:.1f} B per reading (blocks still "
              f"open keep growth room), {per_meter_bytes:,.0f} B per meter")
    print(f"Redis memory at steady state (500 meters x 400 readings, 15 s apart): "
          f"{steady[0]:.1f} B per stored reading (raw series, rollups), {steady[1]:,.0f} B "
          f"per meter (summary, rankings, open block)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
