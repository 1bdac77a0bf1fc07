"""Hostile clients: poison packs inside a busy stream, and a session takeover.

* **poison-pack**: a meter id outside the workload sends two sane readings, then packs
  with hostile values (register 1e12, seq 2^53-1, a NaN register, a payload over 1 MiB),
  each on a client of its own, then its next sane reading. The workload must be stored
  whole, no poison stored, every poison pack the broker acknowledged counted as rejected
  by the fog, and the poisoned meter's next sane reading stored.
* **session-takeover**: a client connects with the fog node's client id
  ``nevoa-fog-<region>`` (clean session, subscribed to the region's readings at QoS 1, as
  ``mosquitto_sub -i nevoa-fog-r1 -q 1`` would) while readings flow, until the fog node
  takes the id back. Nothing acknowledged may be lost. On the compose broker the impostor
  logs in with a meter's account, and the broker binds client ids to usernames;
  ``session-takeover-anonymous`` (only when named) does it on the dev broker, which has
  no accounts at all and loses what the impostor received.
"""

from __future__ import annotations

import json
import select
import socket
import time
from typing import Any, cast

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from nevoa_chaos.count import read_stored
from nevoa_chaos.drill import DrillResult, StreamRun
from nevoa_chaos.workload import KIND
from nevoa_core import topics
from nevoa_core.ids import meter_id
from nevoa_core.senml import Reading, base_name, encode_pack

POISON_INDEX = 999_001  # the poisoned meter: an id no workload meter has
TAKEOVER_HOLD = 5.0  # seconds the impostor keeps the id at most (the fog takes it back)


def pump(client: mqtt.Client, seconds: float, until: Any = None) -> None:
    """Serve one paho client's socket for ``seconds`` or until ``until()`` is true."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and client.socket() is not None:
        if until is not None and until():
            return
        sock = cast(socket.socket, client.socket())
        writing = [sock] if client.want_write() else []
        readable, writable, _ = select.select([sock], writing, [], 0.05)
        if readable:
            client.loop_read()
        if writable and client.socket() is not None:
            client.loop_write()
        if client.socket() is not None:
            client.loop_misc()


def publish_once(host: str, port: int, client_id: str, topic: str, payload: bytes,
                 timeout: float = 5.0) -> bool:
    """One QoS 1 message on a connection of its own: True if the broker acknowledged it."""
    acked: list[bool] = []
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    c.on_publish = lambda _c, _u, _mid, reason, _p: acked.append(
        not getattr(reason, "is_failure", False))
    try:
        c.connect(host, port, keepalive=10)
        c.publish(topic, payload, qos=1)
        pump(c, timeout, lambda: bool(acked))
        if c.socket() is not None:
            c.disconnect()
            pump(c, 1.0)
    except OSError:
        return False
    finally:
        sock = c.socket()
        if sock is not None:
            sock.close()
    return bool(acked and acked[0])


def _raw_pack(meter: str, at: float, register: Any, seq: Any, extra: str = "") -> bytes:
    head: dict[str, Any] = {"bn": base_name(meter), "bt": at, "n": "energy", "u": "kWh",
                            "s": register}
    if extra:
        head["pad"] = extra
    return json.dumps([head, {"n": "seq", "v": seq}]).encode()  # allow_nan: NaN passes


def poison_pack(run: StreamRun) -> None:
    w, broker = run.workload, run.stack.broker
    meter = meter_id(w.region, KIND.spec.letter, POISON_INDEX)
    topic = topics.reading(w.region, meter)
    at = w.start
    sane = [Reading(meter, seq, at + 60 * seq, KIND, 500.0 + seq, None) for seq in (1, 2, 3)]

    def send(label: str, payload: bytes) -> bool:
        return publish_once(broker.host, broker.port, f"chaos-poison-{label}", topic, payload)

    acked_sane = [r for r in sane[:2] if send(f"sane-{r.seq}", encode_pack(meter, [r]))]
    run.wait_acked(0.3)
    run.wait_fog_storing()
    before = run.fog_stats().get("rejected", {})
    fault = run.monitor.begin("poison packs")
    poisons = {
        "register 1e12": _raw_pack(meter, at + 180, 1e12, 3),
        "seq 2^53-1": _raw_pack(meter, at + 180, 503.0, 2**53 - 1),
        "NaN register": _raw_pack(meter, at + 180, float("nan"), 3),
        "1 MiB+ payload": _raw_pack(meter, at + 180, 503.0, 3, "x" * ((1 << 20) + 4096)),
    }
    outcome = {label: send(label.split()[0].lower(), payload)
               for label, payload in poisons.items()}
    if send("sane-3", encode_pack(meter, [sane[2]])):
        acked_sane.append(sane[2])
    run.monitor.end(fault)
    run.say("poison: " + ", ".join(f"{k} {'acknowledged' if v else 'refused'} by the broker"
                                   for k, v in outcome.items()))
    run.details["poison_broker_acknowledged"] = outcome

    def check(run: StreamRun, result: DrillResult) -> None:
        after = run.fog_stats().get("rejected", {})
        delta = {r: n - before.get(r, 0) for r, n in after.items() if n != before.get(r, 0)}
        run.details["poison_rejected"] = delta
        acked_poison = sum(outcome.values())
        counted = sum(delta.values())
        stored = read_stored(run.client, w.region,
                             {meter: {0, (2**53 - 1) // 128}}, KIND)
        kept = {r.seq: r.register for r in stored.readings.get(meter, [])}
        result.readings += len(sane)
        result.acknowledged = (result.acknowledged or 0) + len(acked_sane)
        missing = [r.seq for r in acked_sane if kept.get(r.seq) != r.register]
        result.lost += len(missing)
        if missing:
            result.failures.append(f"poisoned meter's sane seqs {missing} not stored "
                                   f"(stored: {sorted(kept.items())[:5]})")
        sane_registers = {r.seq: r.register for r in sane}
        poisoned = [seq for seq, register in kept.items()
                    if sane_registers.get(seq) != register]
        if poisoned:
            result.failures.append(f"poison stored: seqs {poisoned}")
        if counted < acked_poison:
            result.failures.append(f"{acked_poison - counted} of {acked_poison} poison packs "
                                   "the broker acknowledged were counted nowhere by the fog")
        refused = [k for k, v in outcome.items() if not v]
        result.notes.append(f"rejected {delta or 'nothing'}"
                            + (f"; refused by the broker: {', '.join(refused)}" if refused
                               else ""))

    run.checks.append(check)


def session_takeover(run: StreamRun) -> None:
    region, broker = run.workload.region, run.stack.broker
    run.wait_acked(0.3)
    run.wait_fog_storing()
    sessions_before = run.stack.fog_sessions()
    received: list[int] = []
    state = {"connected": False}
    impostor = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=run.stack.client_id,
                           clean_session=True)
    login = run.stack.login(run.workload.meters[0])  # with accounts: a meter's own
    if login is not None:
        impostor.username_pw_set(*login)

    def on_connect(c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not getattr(reason, "is_failure", False):
            state["connected"] = True
            c.subscribe(topics.region_filter(region, topics.Channel.READING), qos=1)

    impostor.on_connect = on_connect
    impostor.on_message = lambda _c, _u, _m: received.append(1)
    fault = run.monitor.begin(f"client id {run.stack.client_id} taken over")
    began = time.monotonic()
    try:
        impostor.connect(broker.host, broker.port, keepalive=10)
        pump(impostor, 5.0, lambda: state["connected"])
        pump(impostor, TAKEOVER_HOLD)  # until the fog node reconnects and takes the id back
        held = time.monotonic() - began
        if impostor.socket() is not None:
            impostor.disconnect()
            pump(impostor, 1.0)
    finally:
        sock = impostor.socket()
        if sock is not None:
            sock.close()
    run.monitor.end(fault)
    run.say(f"an impostor asking for {run.stack.client_id} stayed {held:.1f}s and took "
            f"{len(received):,} readings")
    run.details["impostor"] = {"held_s": round(held, 2), "received": len(received)}
    if sessions_before > 1:  # before the impostor, the fog's session should be one
        run.notes.append(f"before the impostor came the fog node had begun "
                         f"{sessions_before} MQTT sessions (1 expected)")
    run.details["fog_sessions_before_impostor"] = sessions_before
    who = f" with {login[0]}'s account" if login else ""
    run.notes.append(f"an impostor{who} asking for client id {run.stack.client_id} (clean "
                     f"session, QoS 1 subscriber) stayed {held:.1f}s and received "
                     f"{len(received):,} readings")
