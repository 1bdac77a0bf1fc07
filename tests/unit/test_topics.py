from __future__ import annotations

import pytest

from nevoa_core import topics
from nevoa_core.ids import InvalidId, check_id, meter_id


def test_topic_names_follow_the_wire_contract() -> None:
    assert topics.reading("r1", "m1") == "nevoa/r1/meters/m1/reading"
    assert topics.status("r1", "m1") == "nevoa/r1/meters/m1/status"
    assert topics.command("r1", "m1") == "nevoa/r1/meters/m1/command"
    assert topics.command_ack("r1", "m1") == "nevoa/r1/meters/m1/command/ack"
    assert topics.alerts("r1") == "nevoa/r1/alerts"
    assert topics.region_filter("r1", topics.Channel.READING) == "nevoa/r1/meters/+/reading"
    assert topics.shared("fog", "a/b") == "$share/fog/a/b"


def test_meter_topics_parse_back() -> None:
    parsed = topics.parse_meter_topic(topics.command_ack("r2", "r2-w000003"))
    assert parsed == topics.MeterTopic("r2", "r2-w000003", topics.Channel.COMMAND_ACK)


@pytest.mark.parametrize("topic", [
    "nevoa/r1/meters/m1", "other/r1/meters/m1/reading", "nevoa/r1/meters/m1/nope",
    "nevoa/r1/meters/m 1/reading", "nevoa/r1/x/m1/reading", "",
])
def test_foreign_topics_are_refused(topic: str) -> None:
    with pytest.raises(topics.TopicError):
        topics.parse_meter_topic(topic)


def test_meter_ids() -> None:
    assert meter_id("r1", "e", 42) == "r1-e000042"
    assert check_id("r1-e000042") == "r1-e000042"
    for bad in ["", "a/b", "a+b", "#", "a:b", "x" * 65, 5, None]:
        with pytest.raises(InvalidId):
            check_id(bad)
