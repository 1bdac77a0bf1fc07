"""One MQTT connection of the simulator: a meter's own, or a gateway's for many meters.

* **Per meter** (the real device): client id and username = the meter id, a persistent
  session (commands sent while it was away are delivered when it returns), the last
  will ``offline`` retained on its status topic and ``online`` retained on connect.
* **Multiplexed**: one connection carries many meters' readings; it subscribes to each
  meter's command topic and publishes each meter's status. A broker has one will per
  connection, so a crashed gateway leaves its meters ``online``: the fog's silence
  detection notices them.

Readings go out QoS 1 within a bounded window of unacknowledged packs (paho numbers
them with 16 bits: an unbounded queue would wrap). paho keeps the packs in flight across
a reconnect and sends them again; the window counts them until their PUBACK.

Connecting: the first attempt of each connection happens at a random moment within
the fleet's spread (``count / --connect-rate`` seconds), and after a failure or a lost
connection the next one waits ``min(30 s, 2^failures s)`` x U(0.5, 1) plus U(0, spread):
a broker restart sees the fleet come back at about ``--connect-rate`` per second.
The fleet is told whether a connection is up for the first time or again (a reconnect:
the replay window's cue, :mod:`meter.replay`).

TLS (``BrokerSettings.tls``): one :class:`ssl.SSLContext` for the whole process (the CA
is loaded once, not per meter); paho verifies the broker's certificate and host name
during the (blocking, ``connect_timeout``-bounded) handshake of each attempt.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from meter.ioloop import IoLoop
from nevoa_core.senml import Reading

log = logging.getLogger("nevoa.meter.connection")

BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
SUBSCRIBE_CHUNK = 500  # topics per SUBSCRIBE packet
TLS_PORT, PLAIN_PORT = 8883, 1883
_tls_failures = itertools.count()  # a fleet with the wrong CA logs every 1000th failure


def tls_context(cafile: str | os.PathLike[str]) -> ssl.SSLContext:
    """Trust only ``cafile``; verify the broker's certificate and host name; TLS 1.2+."""
    context = ssl.create_default_context(cafile=os.fspath(cafile))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class _Client(mqtt.Client):
    """paho's client, reading on until a TLS socket has no decrypted bytes left: they
    wait inside the SSL object, where the selector cannot see them."""

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        rc = super().loop_read(max_packets)
        sock = self.socket()
        while (rc == MQTTErrorCode.MQTT_ERR_SUCCESS and isinstance(sock, ssl.SSLSocket)
               and sock.pending()):
            rc = super().loop_read(max_packets)
            sock = self.socket()
        return rc


def reconnect_delay(failures: int, spread: float, rng: random.Random) -> float:
    """Seconds to wait before the next attempt after ``failures`` consecutive failures."""
    backoff = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** min(failures, 16))
    return backoff * rng.uniform(0.5, 1.0) + spread * rng.random()


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    host: str
    port: int
    keepalive: int = 60
    connect_timeout: float = 2.0
    spread: float = 1.0  # seconds over which a fleet's (re)connections are spread
    tls: ssl.SSLContext | None = None  # None: plain TCP


@dataclass(slots=True)
class Pack:
    """Readings of one meter travelling in one message."""

    meter: int  # the meter's position in the fleet
    readings: list[Reading]


@dataclass(slots=True)
class Identity:
    client_id: str
    username: str | None = None
    password: str | None = None
    will_topic: str | None = None  # per-meter mode: retained "offline" if it dies
    status_topics: Sequence[str] = ()  # retained "online" on connect, "offline" on stop
    command_topics: Sequence[str] = ()


@dataclass(slots=True)
class Events:
    """What a connection tells the fleet."""

    acknowledged: Callable[[Pack], None]
    command: Callable[[str, bytes], None]  # topic, payload
    up: Callable[[Connection], None]
    down: Callable[[Connection, bool], None]  # the connection, whether it had been up


@dataclass(eq=False, slots=True)
class Connection:
    identity: Identity
    broker: BrokerSettings
    window: int
    events: Events
    loop: IoLoop
    rng: random.Random
    connected: bool = False
    connects: int = 0  # successful connections so far: more than one is a reconnect
    session_present: bool = False  # the broker still had our session at the last connect
    failures: int = 0
    refusals: int = 0
    next_attempt: float = 0.0
    inflight: dict[int, Pack] = field(default_factory=dict)
    farewells: set[int] = field(default_factory=set)  # "offline" statuses not yet acked
    client: mqtt.Client = field(init=False)

    def __post_init__(self) -> None:
        ident = self.identity
        c = _Client(CallbackAPIVersion.VERSION2, client_id=ident.client_id,
                    clean_session=False)
        if self.broker.tls is not None:
            c.tls_set_context(self.broker.tls)
        c.max_inflight_messages_set(0)  # the window below bounds what is outstanding
        c.max_queued_messages_set(0)
        c.connect_timeout = self.broker.connect_timeout
        if ident.username:
            c.username_pw_set(ident.username, ident.password)
        if ident.will_topic:
            c.will_set(ident.will_topic, "offline", qos=1, retain=True)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_message = self._on_message
        c.connect_async(self.broker.host, self.broker.port, keepalive=self.broker.keepalive)
        self.loop.attach(c)
        self.client = c

    # -- sending -----------------------------------------------------------------------
    def can_send(self) -> bool:
        return self.connected and len(self.inflight) < self.window

    def send(self, topic: str, payload: bytes, pack: Pack) -> None:
        info = self.client.publish(topic, payload, qos=1)
        self.inflight[info.mid] = pack

    def send_untracked(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        """Statuses and command acknowledgements: QoS 1, outside the reading window."""
        self.client.publish(topic, payload, qos=1, retain=retain)

    # -- connecting --------------------------------------------------------------------
    def schedule_first(self, now: float) -> None:
        self.next_attempt = now + self.broker.spread * self.rng.random()

    def attempt(self, now: float) -> bool:
        """One (blocking, bounded by connect_timeout) connection attempt."""
        try:
            self.client.reconnect()
            return True
        except OSError as exc:
            self.failures += 1
            self.next_attempt = now + reconnect_delay(self.failures, self.broker.spread, self.rng)
            if isinstance(exc, ssl.SSLError) and next(_tls_failures) % 1000 == 0:
                log.warning("%s: TLS with %s:%d failed: %s", self.identity.client_id,
                            self.broker.host, self.broker.port, exc)
            else:
                log.debug("%s: cannot connect: %s", self.identity.client_id, exc)
            return False

    def _on_connect(self, c: mqtt.Client, _u: object, flags: mqtt.ConnectFlags,
                    reason: object, _p: object) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("%s: broker refused the connection: %s", self.identity.client_id, reason)
            self.failures += 1
            self.refusals += 1
            return
        self.connected = True
        self.connects += 1
        self.session_present = bool(flags.session_present)
        self.failures = 0
        topics = list(self.identity.command_topics)
        if topics and not flags.session_present:
            for i in range(0, len(topics), SUBSCRIBE_CHUNK):
                c.subscribe([(t, 1) for t in topics[i : i + SUBSCRIBE_CHUNK]])
        for status in self.identity.status_topics:
            c.publish(status, "online", qos=1, retain=True)
        self.events.up(self)

    def _on_disconnect(self, _c: mqtt.Client, _u: object, _f: object, reason: object,
                       _p: object) -> None:
        was = self.connected
        self.connected = False
        self.next_attempt = time.monotonic() + reconnect_delay(self.failures,
                                                               self.broker.spread, self.rng)
        self.events.down(self, was)
        if was:
            log.debug("%s: disconnected (%s)", self.identity.client_id, reason)

    def _on_publish(self, _c: mqtt.Client, _u: object, mid: int, _rc: object,
                    _p: object) -> None:
        pack = self.inflight.pop(mid, None)
        if pack is not None:
            self.events.acknowledged(pack)
        else:
            self.farewells.discard(mid)

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        self.events.command(message.topic, bytes(message.payload))

    # -- stopping ----------------------------------------------------------------------
    def say_offline(self) -> None:
        """Publish "offline" on every status topic; wait for ``farewells`` to empty before
        disconnecting: closing a socket with unread PUBACKs makes the kernel reset the
        connection, and the broker then drops what it had not read yet."""
        if self.connected:
            for status in self.identity.status_topics:
                self.farewells.add(self.client.publish(status, "offline", qos=1,
                                                       retain=True).mid)

    def disconnect(self) -> None:
        """A clean DISCONNECT (no last will); ``connected`` falls when paho says so."""
        if self.client.socket() is not None:
            self.client.disconnect()

    def drop(self) -> None:
        """Close the connection without DISCONNECT: the broker then publishes the last
        will, ``offline`` - what a device that loses power leaves behind, at the cost of
        one system call (ten thousand meters say goodbye in milliseconds)."""
        sock = self.client.socket()
        if sock is not None:
            try:
                cast(socket.socket, sock).shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        was = self.connected
        self.connected = False
        self.events.down(self, was)
