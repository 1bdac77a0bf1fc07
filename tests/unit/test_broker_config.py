"""The two broker configurations promise the same durability and the same size limit,
and the limit is the one the fog node and the wire format use (one home: senml)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fog_node.mqtt_link import MAX_PACKET
from nevoa_core.senml import MAX_PACKET_BYTES, MAX_PAYLOAD_BYTES

BROKER = Path(__file__).resolve().parents[2] / "broker"
DURABILITY = ("persistence", "autosave_interval", "max_queued_messages", "max_queued_bytes",
              "persistent_client_expiration", "max_packet_size")


def settings(name: str) -> dict[str, str]:
    out = {}
    for line in (BROKER / name).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            out[key] = value.strip()
    return out


@pytest.mark.parametrize("key", DURABILITY)
def test_dev_and_compose_brokers_keep_messages_the_same_way(key: str) -> None:
    dev, compose = settings("mosquitto-dev.conf"), settings("mosquitto.conf")
    assert key in dev and dev[key] == compose.get(key), key


def test_one_size_limit_for_broker_fog_and_wire_format() -> None:
    assert int(settings("mosquitto-dev.conf")["max_packet_size"]) == MAX_PACKET_BYTES
    assert MAX_PACKET == MAX_PACKET_BYTES > MAX_PAYLOAD_BYTES
