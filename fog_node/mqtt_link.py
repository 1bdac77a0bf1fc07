"""IngestLink: the fog node's subscribing MQTT 5 connection, built for draining fast.

One thread connects (persistent session, ``clean_start`` false), subscribes, then reads
the socket in large chunks and hands every complete PUBLISH to ``on_publishes`` in one
list per read. Acknowledgements are sent by :meth:`IngestLink.ack` from the writer
thread, once the messages are stored, as one buffer of PUBACKs per batch.

Every connection has a generation number. Packet ids are only meaningful on the
connection that delivered them: an ack for an older generation is dropped, and the
broker redelivers those messages on the new connection (they are then duplicates the
store ignores).

With ``LinkSettings.tls`` the connection is TLS (:func:`tls_client_context`: the
broker's certificate is verified against the CA and the host name, TLS 1.2 or newer).
An ``SSLSocket`` must not be read in one thread while another writes to it, so every
recv and send happens under one lock, on a non-blocking socket: the reader waits for
data with ``poll`` outside the lock, then reads until the socket would block (a TLS
recv returns at most one record, ~16 KiB; decrypted bytes can wait in the SSL object,
``pending()``, where ``poll`` does not see them, so the reader waits only after a read
that would have blocked). Plain TCP takes the same path.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import ssl
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
POLL_SECONDS = 1.0  # the reader looks at keepalive and stop this often when idle
SEND_TIMEOUT = 10.0  # seconds a send may wait for the broker to take more bytes
_WOULD_BLOCK = (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError)


def tls_client_context(cafile: str | os.PathLike[str]) -> ssl.SSLContext:
    """Trust only ``cafile``; verify the broker's certificate and host name; TLS 1.2+."""
    context = ssl.create_default_context(cafile=os.fspath(cafile))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


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
    tls: ssl.SSLContext | None = None  # None: plain TCP


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
            sock = self._sock
            if generation != self._generation or sock is None:
                return False
            try:
                _send_all(sock, wire.pubacks(mids))
                self._last_send = time.monotonic()
                return True
            except OSError as exc:
                # part of a packet may have gone out: the stream is unusable, reconnect
                log.warning("could not send %d acknowledgements: %s", len(mids), exc)
                _close(sock)
                return False

    def drop(self) -> None:
        """Close the connection; the thread reconnects and the broker redelivers what was
        not acknowledged."""
        with self._send_lock:
            if self._sock is not None:
                _close(self._sock)

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
                    _send_all(sock, wire.DISCONNECT_PACKET, timeout=1.0)
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
            _send_all(self._sock, data)
            self._last_send = time.monotonic()

    def _session(self) -> None:
        s = self.settings
        sock = socket.create_connection((s.host, s.port), timeout=10)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if s.tls is not None:
                # the handshake, within the connect timeout; a certificate that does not
                # verify raises ssl.SSLCertVerificationError (an OSError): retried
                sock = s.tls.wrap_socket(sock, server_hostname=s.host)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        with self._send_lock:
            self._sock = sock
            self._generation += 1
            generation = self._generation
        self._send(wire.connect_packet(
            s.client_id, s.keepalive, s.clean_start, s.session_expiry, s.receive_maximum,
            MAX_PACKET, s.username, s.password))
        self._read_loop(sock, generation)

    def _read(self, sock: socket.socket) -> tuple[bytes, bool, bool]:
        """What the socket holds, up to READ_CHUNK bytes: (data, would_block, at_eof)."""
        parts: list[bytes] = []
        size = 0
        with self._send_lock:  # never recv while another thread sends on this socket
            if sock.fileno() < 0:
                raise OSError("the connection was closed")
            while size < READ_CHUNK:
                try:
                    data = sock.recv(READ_CHUNK - size)
                except _WOULD_BLOCK:
                    return b"".join(parts), True, False
                if not data:
                    return b"".join(parts), False, True
                parts.append(data)
                size += len(data)
        return b"".join(parts), False, False

    def _read_loop(self, sock: socket.socket, generation: int) -> None:
        buf = b""
        ping_sent: float | None = None
        readable = select.poll()
        readable.register(sock, select.POLLIN)
        wait = False  # the last read would have blocked: wait for the socket
        while not self._stop.is_set():
            if self._paused.is_set():
                self._stop.wait(0.05)
                continue
            if wait:
                readable.poll(POLL_SECONDS * 1000)
            data, wait, eof = self._read(sock)
            now = time.monotonic()
            if data:
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
            if eof:
                raise OSError("the broker closed the connection")
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


def _send_all(sock: socket.socket, data: bytes, timeout: float = SEND_TIMEOUT) -> None:
    """Send all of ``data`` on a non-blocking socket, waiting (at most ``timeout`` seconds
    without progress) while the broker takes nothing. The caller holds the link's lock.
    A TLS write that would block must be retried with the same bytes (OpenSSL finishes
    the record it began), so ``view`` only advances by what ``send`` reports."""
    view = memoryview(data)
    while view:
        try:
            view = view[sock.send(view):]
            continue
        except (ssl.SSLWantWriteError, BlockingIOError):
            events = select.POLLOUT
        except ssl.SSLWantReadError:  # a TLS write may need to read first (renegotiation)
            events = select.POLLIN
        poller = select.poll()
        poller.register(sock, events)
        if not poller.poll(timeout * 1000):
            raise TimeoutError(f"the broker took nothing for {timeout:g}s")


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
