"""VEE: tamper, spike and gap rules, and how stored flags read."""

from __future__ import annotations

from nevoa_core.kinds import Kind
from nevoa_core.vee import flags_from_summary, is_spike, is_tamper, missing_between, spike_limit


def test_spike_limits_follow_the_physical_maximum_rates() -> None:
    assert spike_limit(Kind.WATER) == 10.0  # m3 per second
    assert abs(spike_limit(Kind.ELECTRICITY) - 1e6 / 3.6e6) < 1e-12  # 1 MW in kWh/s


def test_spike_is_consumption_faster_than_possible() -> None:
    assert is_spike(Kind.WATER, 151.0, 15.0)
    assert not is_spike(Kind.WATER, 150.0, 15.0)
    assert is_spike(Kind.WATER, 1.0, 0.0)  # consumption in no time at all
    assert not is_spike(Kind.WATER, 0.0, 0.0)


def test_tamper_and_gap() -> None:
    assert is_tamper(10.0, 9.999) and not is_tamper(10.0, 10.0)
    assert missing_between(5, 9) == 3 and missing_between(5, 6) == 0


def test_flags_read_from_the_summary() -> None:
    flags = flags_from_summary({"vee": "1 3 1 0", "tamper_at": "4>5 register 10.0>9.0",
                                "gap_at": "6>10"})
    assert (flags.tamper, flags.spike, flags.missing) == (1, 0, 3)
    body = flags.as_json()
    assert body["tamper"] and body["gap"] and not body["spike"]
    assert any("4>5" in d for d in body["details"])
    assert not flags_from_summary({}).any
