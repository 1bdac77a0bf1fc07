"""IngestLink: the fog node's subscribing MQTT 5 connection, built for draining fast.

One thread connects (persistent session, ``clean_start`` false), subscribes, then reads
the socket in large chunks and hands every complete PUBLISH to ``on_publishes`` in one
list per read. Acknowledgements are sent by :meth:`IngestLink.ack` from the writer
thread, once the messages are stored, as one buffer of PUBACKs per batch.

Every connection has a generation number. Packet ids are only meaningful on the
connection that delivered them: an ack for an older generation is dropped, and the
broker redelivers those messages on the new connection (they are then duplicates the
store ignores).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fog_node import mqtt_wire as wire
from nevoa_core.senml import MAX_PACKET_BYTES

log = logging.getLogger("nevoa.fog.mqtt")

READ_CHUNK = 1 << 17  # ~1,000 readings: batches stay near batch_size
RECONNECT_FIRST = 0.5  # seconds before the first reconnect after a session ended
RECONNECT_MAX = 10.0  # ... doubling per failed attempt in a row, up to this
MAX_PACKET = MAX_PACKET_BYTES  # the brokers' max_packet_size: all they accept reaches us


@dataclass(frozen=True, slots=True)
class LinkSettings:
    host: str
    port: int
    client_id: str
    filters: tuple[str, ...]
    username: str | None = None
    password: str | None = None
    keepalive: int = 30
    session_expiry: int = 7 * 24 * 3600
    receive_maximum: int = 20_000  # unacknowledged QoS 1 messages the broker may send
    clean_start: bool = False


PublishHandler = Callable[[list[wire.Publish], int], None]


class IngestLink:
    def __init__(self, settings: LinkSettings, on_publishes: PublishHandler) -> None:
        self.settings = settings
        self._on_publishes = on_publishes
        self._send_lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._generation = 0
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._last_send = 0.0
        self.connected = threading.Event()
        self.session_present = False
        self._thread = threading.Thread(target=self._run, name="mqtt-ingest", daemon=True)

    # --- used by other threads -------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def ack(self, mids: list[int], generation: int) -> bool:
        """PUBACK ``mids`` if they came on the current connection; False if dropped."""
        if not mids:
            return True
        with self._send_lock:
            if generation != self._generation or self._sock is None:
                return False
            try:
                self._sock.sendall(wire.pubacks(mids))
                self._last_send = time.monotonic()
                return True
            except OSError as exc:
                log.warning("could not send %d acknowledgements: %s", len(mids), exc)
                return False

    def drop(self) -> None:
        """Close the connection; the thread reconnects and the broker redelivers what was
        not acknowledged."""
        with self._send_lock:
            sock = self._sock
        if sock is not None:
            _close(sock)

    def pause(self) -> None:
        """Read nothing more (the broker keeps what we have not read); acks still go out."""
        self._paused.set()

    def stop(self) -> None:
        """Disconnect normally: the broker keeps the session and anything unacknowledged."""
        self._stop.set()
        with self._send_lock:
            sock, self._sock = self._sock, None
            self._generation += 1
        if sock is not None:
            try:
                sock.sendall(wire.DISCONNECT_PACKET)
            except OSError:
                pass
            _close(sock)
        self._thread.join(timeout=5)

    # --- the connection thread -------------------------------------------------------
    def _run(self) -> None:
        delay = RECONNECT_FIRST
        while not self._stop.is_set():
            try:
                self._session()
            except (OSError, wire.ProtocolError) as exc:
                if self._stop.is_set():
                    break
                # a session that was up and then failed starts the back-off over: only
                # failures in a row (a broker that stays away) wait longer and longer
                delay = RECONNECT_FIRST if self.connected.is_set() else delay
                log.warning("MQTT connection to %s:%d lost or refused (%s); retrying in %.1fs",
                            self.settings.host, self.settings.port, exc, delay)
            except Exception:  # a bug must not end ingest: reconnect, the broker redelivers
                delay = RECONNECT_FIRST if self.connected.is_set() else delay
                log.exception("unexpected failure in the MQTT connection; reconnecting")
            finally:
                self.connected.clear()
                with self._send_lock:
                    sock, self._sock = self._sock, None
                    self._generation += 1
                if sock is not None:
                    _close(sock)
            self._stop.wait(delay)
            delay = min(delay * 2, RECONNECT_MAX)

    def _send(self, data: bytes) -> None:
        with self._send_lock:
            if self._sock is None:
                raise OSError("not connected")
            self._sock.sendall(data)
            self._last_send = time.monotonic()

    def _session(self) -> None:
        s = self.settings
        sock = socket.create_connection((s.host, s.port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(1.0)
        with self._send_lock:
            self._sock = sock
            self._generation += 1
            generation = self._generation
        self._send(wire.connect_packet(
            s.client_id, s.keepalive, s.clean_start, s.session_expiry, s.receive_maximum,
            MAX_PACKET, s.username, s.password))
        self._read_loop(sock, generation)

    def _read_loop(self, sock: socket.socket, generation: int) -> None:
        buf = b""
        ping_sent: float | None = None
        while not self._stop.is_set():
            if self._paused.is_set():
                self._stop.wait(0.05)
                continue
            try:
                data = sock.recv(READ_CHUNK)
            except TimeoutError:
                data = None
            now = time.monotonic()
            if data is not None:
                if not data:
                    raise OSError("the broker closed the connection")
                buf = buf + data if buf else data
                publishes: list[wire.Publish] = []
                controls: list[wire.Control] = []
                consumed = wire.parse_packets(buf, publishes, controls, MAX_PACKET)
                buf = buf[consumed:]
                for c in controls:
                    if c.kind == wire.PINGRESP:
                        ping_sent = None
                    else:
                        self._control(c)
                if publishes:
                    self._on_publishes(publishes, generation)
            if ping_sent is not None and now - ping_sent > self.settings.keepalive:
                raise OSError("no PINGRESP from the broker")
            if ping_sent is None and now - self._last_send > self.settings.keepalive / 2:
                self._send(wire.PINGREQ_PACKET)
                ping_sent = now

    def _control(self, c: wire.Control) -> None:
        if c.kind == wire.CONNACK:
            ack = wire.parse_connack(c.body)
            if ack.reason >= 0x80:
                raise wire.ProtocolError(
                    f"broker refused the connection: reason 0x{ack.reason:02x} {ack.reason_string}")
            self.session_present = ack.session_present
            self._send(wire.subscribe_packet(1, list(self.settings.filters)))
        elif c.kind == wire.SUBACK:
            codes = wire.parse_suback(c.body)
            refused = [f for f, code in zip(self.settings.filters, codes, strict=False)
                       if code >= 0x80]
            if refused:
                raise wire.ProtocolError(f"broker refused the subscriptions {refused}: {codes}")
            log.info("connected to %s:%d as %s (session %s), subscribed to %s",
                     self.settings.host, self.settings.port, self.settings.client_id,
                     "resumed" if self.session_present else "new",
                     ", ".join(self.settings.filters))
            self.connected.set()
        elif c.kind == wire.DISCONNECT:
            reason = c.body[0] if c.body else 0
            raise wire.ProtocolError(f"broker sent DISCONNECT, reason 0x{reason:02x}")
        else:
            log.debug("ignored MQTT packet of type %d", c.kind)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
