"""A fast QoS 1 publisher on a bare socket, for benchmarks and tests that must put a
large backlog into a broker quickly (paho publishes a few thousand messages a second;
this, tens of thousands). It uses the fog node's MQTT 5 codec."""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence

from fog_node import mqtt_wire as wire


def publish_all(host: str, port: int, messages: Sequence[tuple[str, bytes]],
                window: int = 10_000, retain: bool = False,
                client_id: str = "nevoa-raw-publisher") -> float:
    """Publish every (topic, payload) at QoS 1, ``window`` at a time, and wait for each
    PUBACK: when it returns, the broker holds them all. Returns messages per second."""
    sock = socket.create_connection((host, port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    started = time.perf_counter()
    try:
        sock.sendall(wire.connect_packet(client_id, 60, True, 0, 65_535, 1 << 20))
        buf = bytearray()
        pubs: list[wire.Publish] = []
        controls: list[wire.Control] = []
        while not any(c.kind == wire.CONNACK for c in controls):
            buf += sock.recv(65_536)
            del buf[:wire.parse_packets(buf, pubs, controls, 1 << 20)]
        for first in range(0, len(messages), window):
            chunk = messages[first:first + window]
            sock.sendall(b"".join(wire.publish_packet(t, p, 1, i % 65_535 + 1, retain)
                                  for i, (t, p) in enumerate(chunk)))
            acked = 0
            while acked < len(chunk):
                controls.clear()
                buf += sock.recv(1 << 20)
                del buf[:wire.parse_packets(buf, pubs, controls, 1 << 20)]
                acked += sum(1 for c in controls if c.kind == wire.PUBACK)
    finally:
        sock.close()
    return len(messages) / (time.perf_counter() - started)
