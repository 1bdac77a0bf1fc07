"""MQTT topic names: the one place where they are spelled.

    nevoa/{region}/meters/{meter}/reading       meter -> fog, QoS 1
    nevoa/{region}/meters/{meter}/status        retained online/offline (last will)
    nevoa/{region}/meters/{meter}/command       fog -> meter, QoS 1
    nevoa/{region}/meters/{meter}/command/ack   meter -> fog
    nevoa/{region}/alerts                       alerts raised by the fog node
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from nevoa_core.ids import is_valid_id

ROOT = "nevoa"


class Channel(str, Enum):
    READING = "reading"
    STATUS = "status"
    COMMAND = "command"
    COMMAND_ACK = "command/ack"


def meter_topic(region: str, meter: str, channel: Channel) -> str:
    return f"{ROOT}/{region}/meters/{meter}/{channel.value}"


def reading(region: str, meter: str) -> str:
    return meter_topic(region, meter, Channel.READING)


def status(region: str, meter: str) -> str:
    return meter_topic(region, meter, Channel.STATUS)


def command(region: str, meter: str) -> str:
    return meter_topic(region, meter, Channel.COMMAND)


def command_ack(region: str, meter: str) -> str:
    return meter_topic(region, meter, Channel.COMMAND_ACK)


def alerts(region: str) -> str:
    return f"{ROOT}/{region}/alerts"


def region_filter(region: str, channel: Channel) -> str:
    """The subscription filter matching one channel of every meter of a region."""
    return meter_topic(region, "+", channel)


def shared(group: str, topic_filter: str) -> str:
    """An MQTT 5 shared subscription: the broker spreads messages over the group."""
    return f"$share/{group}/{topic_filter}"


@dataclass(frozen=True, slots=True)
class MeterTopic:
    region: str
    meter: str
    channel: Channel


class TopicError(ValueError):
    """A topic that is not one of nevoa's meter topics."""


_CHANNELS = {c.value: c for c in Channel}


def parse_meter_topic(topic: str) -> MeterTopic:
    parts = topic.split("/", 4)
    if len(parts) != 5 or parts[0] != ROOT or parts[2] != "meters":
        raise TopicError(f"not a nevoa meter topic: {topic!r}")
    _, region, _, meter, rest = parts
    channel = _CHANNELS.get(rest)
    if channel is None or not is_valid_id(region) or not is_valid_id(meter):
        raise TopicError(f"not a nevoa meter topic: {topic!r}")
    return MeterTopic(region, meter, channel)
