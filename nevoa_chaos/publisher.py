"""A QoS 1 publisher that records every PUBACK it gets, on one or thousands of connections.

It is the reference client the drills count against: a reading is **acknowledged** once
the broker sent its PUBACK, and from then on the system owes it. The protocol is the one
the project's meters are getting:

* persistent sessions (MQTT 3.1.1, ``clean_session`` false, a stable client id);
* at most ``window`` messages unacknowledged per connection (paho numbers them with
  16 bits); paho keeps the ones in flight across a reconnect and sends them again;
* a **replay window**: after each reconnect, every message the broker acknowledged in
  the last ``replay_window`` seconds on that connection is published again (Mosquitto
  writes its database only every ``autosave_interval``, so a ``kill -9`` of the broker
  forgets what it acknowledged since; the store's idempotence by (meter, seq) absorbs
  the copies).

Readings are released at ``rate`` per second into their connection's queue (a connection
that is down keeps them, as a meter's buffer does). One thread drives every socket with a
selector through paho's external-loop API (paho-mqtt 2.x, ``CallbackAPIVersion.VERSION2``).
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

log = logging.getLogger("nevoa.chaos.publisher")

MessageSource = Callable[[int], tuple[str, bytes]]  # key -> topic, payload
_READ, _WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
RECONNECT_CAP = 2.0  # seconds between attempts at most: the drills measure recovery
CONNECT_BUDGET = 0.25  # seconds of blocking connection attempts per loop turn


@dataclass(eq=False, slots=True)
class _Connection:
    index: int
    client: mqtt.Client
    pending: dict[int, int] = field(default_factory=dict)  # mid -> message key
    queue: deque[int] = field(default_factory=deque)  # keys to send, oldest first
    recent: deque[tuple[float, int]] = field(default_factory=deque)  # (acked at, key)
    connected: bool = False
    ever_connected: bool = False
    replay_due: bool = False
    failures: int = 0
    next_attempt: float = 0.0


@dataclass(slots=True)
class PublisherCounters:
    published: int = 0  # PUBLISH calls, replays included (paho's resends are not)
    replayed: int = 0  # messages published again after a reconnect (the replay window)
    acks: int = 0  # PUBACKs of tracked messages, repeats included
    reconnects: int = 0  # CONNACKs after the first one of a connection
    connect_failures: int = 0
    drops: int = 0  # connections dropped on request (drop_all)


class RecordingPublisher:
    def __init__(self, host: str, port: int, client_ids: Sequence[str],
                 message: MessageSource, total: int, *, rate: float,
                 window: int, replay_window: float = 30.0, keepalive: int = 10,
                 connection_of: Callable[[int], int] | None = None,
                 login: tuple[str, str] | None = None) -> None:
        self.host, self.port = host, port
        self.total = total
        self.rate = rate
        self.window = window
        self.replay_window = replay_window
        self.keepalive = keepalive
        self.login = login
        self.counters = PublisherCounters()
        self._message = message
        self._connection_of = connection_of or (lambda _key: 0)
        self._selector = selectors.DefaultSelector()
        self._conns = [self._connection(i, cid) for i, cid in enumerate(client_ids)]
        self._acked_at: list[float | None] = [None] * total
        self._ack_log: list[tuple[int, float]] = []  # first PUBACK of each key, in order
        self._lock = threading.Lock()
        self._released = 0
        self._started_at = 0.0
        self._stop = threading.Event()
        self._drop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-publisher", daemon=True)
        self.error: BaseException | None = None
        self.last_drop_at: float | None = None
        self.all_up_after_drop: float | None = None  # seconds until every one was back

    # --- used by the drill's thread ----------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def drop_all(self) -> None:
        """Close every connection at once, without DISCONNECT; each reconnects at once."""
        self._drop.set()

    @property
    def acked(self) -> int:
        return len(self._ack_log)

    def acks_since(self, position: int) -> list[tuple[int, float]]:
        """(key, first PUBACK time) of the keys acknowledged after the first ``position``."""
        with self._lock:
            return self._ack_log[position:]

    def acked_keys(self) -> set[int]:
        with self._lock:
            return {key for key, _ in self._ack_log}

    def connected(self) -> int:
        return sum(1 for c in self._conns if c.connected)

    def done(self) -> bool:
        """Every message released, sent and acknowledged."""
        return (self._released >= self.total and self.acked >= self.total
                and not any(c.pending or c.queue for c in self._conns))

    def wait_done(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.done() and time.monotonic() < deadline and self._thread.is_alive():
            time.sleep(0.05)
        return self.done()

    # --- connections -------------------------------------------------------------------
    def _connection(self, index: int, client_id: str) -> _Connection:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                        userdata=index)
        c.max_inflight_messages_set(0)  # the window bounds what is outstanding
        c.max_queued_messages_set(0)
        c.connect_timeout = 2.0
        if self.login is not None:
            c.username_pw_set(*self.login)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_socket_open = self._opened
        c.on_socket_close = self._closed
        c.on_socket_register_write = self._want_write
        c.on_socket_unregister_write = self._wrote
        c.connect_async(self.host, self.port, keepalive=self.keepalive)
        return _Connection(index, c)

    def _on_connect(self, _c: mqtt.Client, index: int, _flags: mqtt.ConnectFlags,
                    reason: Any, _p: Any) -> None:
        conn = self._conns[index]
        if getattr(reason, "is_failure", False):
            conn.failures += 1
            self.counters.connect_failures += 1
            return
        conn.connected, conn.failures = True, 0
        if conn.ever_connected:
            self.counters.reconnects += 1
            conn.replay_due = True
        conn.ever_connected = True

    def _on_disconnect(self, _c: mqtt.Client, index: int, _f: Any, _r: Any, _p: Any) -> None:
        conn = self._conns[index]
        was = conn.connected
        conn.connected = False
        if not was:
            conn.failures += 1
        delay = 0.0 if was else min(RECONNECT_CAP, 0.1 * 2 ** min(conn.failures, 5))
        conn.next_attempt = time.monotonic() + delay

    def _on_publish(self, _c: mqtt.Client, index: int, mid: int, reason: Any, _p: Any) -> None:
        conn = self._conns[index]
        key = conn.pending.pop(mid, None)
        if key is None or getattr(reason, "is_failure", False):
            return
        now = time.monotonic()
        self.counters.acks += 1
        conn.recent.append((now, key))
        if self._acked_at[key] is None:
            self._acked_at[key] = now
            with self._lock:
                self._ack_log.append((key, now))

    def _opened(self, client: mqtt.Client, _u: Any, sock: Any) -> None:
        try:
            self._selector.register(sock, _READ, client)
        except KeyError:
            self._selector.modify(sock, _READ, client)

    def _closed(self, _client: mqtt.Client, _u: Any, sock: Any) -> None:
        try:
            self._selector.unregister(sock)
        except (KeyError, ValueError):
            pass

    def _want_write(self, client: mqtt.Client, _u: Any, sock: Any) -> None:
        try:
            self._selector.modify(sock, _READ | _WRITE, client)
        except (KeyError, ValueError):
            pass

    def _wrote(self, client: mqtt.Client, _u: Any, sock: Any) -> None:
        try:
            self._selector.modify(sock, _READ, client)
        except (KeyError, ValueError):
            pass

    # --- the loop ----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # the drill reports it; the counts stay valid
            log.exception("the recording publisher failed")
            self.error = exc
        finally:
            self._close()

    def _loop(self) -> None:
        self._started_at = next_misc = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if self._drop.is_set():
                self._drop_connections(now)
            self._release(now)
            self._connect_due(now)
            busy = self._send()
            if now >= next_misc:
                for c in self._conns:
                    if c.client.socket() is not None:
                        c.client.loop_misc()
                    self._trim(c, now)
                self._check_all_up(now)
                next_misc = now + 0.5
            for key, mask in self._selector.select(0 if busy else 0.02):
                client = cast(mqtt.Client, key.data)
                if mask & _READ:
                    client.loop_read()
                if mask & _WRITE and client.socket() is key.fileobj:
                    client.loop_write()

    def _release(self, now: float) -> None:
        due = self.total if self.rate <= 0 else min(
            self.total, int((now - self._started_at) * self.rate) + 1)
        for key in range(self._released, due):
            self._conns[self._connection_of(key)].queue.append(key)
        self._released = max(self._released, due)

    def _connect_due(self, now: float) -> None:
        spent_until = time.monotonic() + CONNECT_BUDGET
        for c in self._conns:
            if c.connected or c.client.socket() is not None or c.next_attempt > now:
                continue
            try:
                c.client.reconnect()
            except OSError:
                c.failures += 1
                self.counters.connect_failures += 1
                c.next_attempt = now + min(RECONNECT_CAP, 0.1 * 2 ** min(c.failures, 5))
            if time.monotonic() > spent_until:
                break

    def _send(self) -> bool:
        busy = False
        for c in self._conns:
            if not c.connected:
                continue
            if c.replay_due:
                self._replay(c)
            while c.queue and len(c.pending) < self.window:
                key = c.queue.popleft()
                topic, payload = self._message(key)
                info = c.client.publish(topic, payload, qos=1)
                c.pending[info.mid] = key
                self.counters.published += 1
                busy = True
        return busy

    def _replay(self, c: _Connection) -> None:
        """Publish again what the broker acknowledged in the last ``replay_window`` s."""
        c.replay_due = False
        cutoff = time.monotonic() - self.replay_window
        again = [key for at, key in c.recent if at >= cutoff]
        c.queue.extendleft(reversed(again))
        self.counters.replayed += len(again)

    def _trim(self, c: _Connection, now: float) -> None:
        cutoff = now - self.replay_window
        while c.recent and c.recent[0][0] < cutoff:
            c.recent.popleft()

    def _drop_connections(self, now: float) -> None:
        self._drop.clear()
        for c in self._conns:
            sock = c.client.socket()
            if sock is not None:
                try:
                    cast(socket.socket, sock).shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                self.counters.drops += 1
        self.last_drop_at, self.all_up_after_drop = now, None

    def _check_all_up(self, now: float) -> None:
        if self.last_drop_at is not None and self.all_up_after_drop is None \
                and now - self.last_drop_at > 0.5 and all(c.connected for c in self._conns):
            self.all_up_after_drop = now - self.last_drop_at

    def _close(self) -> None:
        for c in self._conns:
            if c.client.socket() is not None:
                c.client.disconnect()
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline and any(c.client.socket() is not None
                                                  for c in self._conns):
            for key, mask in self._selector.select(0.05):
                client = cast(mqtt.Client, key.data)
                if mask & _READ:
                    client.loop_read()
                if mask & _WRITE and client.socket() is key.fileobj:
                    client.loop_write()
        for c in self._conns:
            sock = c.client.socket()
            if sock is not None:
                cast(socket.socket, sock).close()
        self._selector.close()
