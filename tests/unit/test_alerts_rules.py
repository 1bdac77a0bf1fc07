"""Every alert rule, the open/clear transitions and the lifecycle, without any server."""

from __future__ import annotations

from dataclasses import replace

import pytest

from nevoa_core.alerts import (
    AlertState,
    AlertType,
    LifecycleError,
    MeterFacts,
    RuleSettings,
    acknowledge,
    judge,
    transitions,
)
from nevoa_core.kinds import Kind

NOW = 1_763_600_000.0
RULES = RuleSettings(leak_window=6 * 3600, silent_factor=3, silent_min=60, mean_factor=1.0)
BASE = MeterFacts(
    meter="m1", kind=Kind.WATER, now=NOW, recent_hours=[10, 10, 10, 10], latest_time=NOW,
    seen=NOW, interval=15.0, flowing_since=None, tamper_events=0, tamper_events_cleared=0,
    period_consumption=5.0, region_mean=5.0, region_meters=10, cap=None)


def verdicts(facts: MeterFacts) -> dict[AlertType, bool]:
    return {f.type: f.holds for f in judge(facts, RULES)}


def test_a_quiet_regular_meter_raises_nothing() -> None:
    assert not any(verdicts(BASE).values())


def test_excess_follows_the_seed_rule_over_the_latest_hours() -> None:
    # hours 10, 10, 10, then 15: 1.5 x the mean of 10 is excessive
    found = {f.type: f for f in judge(replace(BASE, recent_hours=[7, 10, 10, 10, 15]), RULES)}
    assert found[AlertType.EXCESS].holds
    assert found[AlertType.EXCESS].detail["excess"] == 5.0
    assert not verdicts(replace(BASE, recent_hours=[10, 10, 10, 14.9]))[AlertType.EXCESS]


def test_excess_needs_four_hours_and_a_worthwhile_excess() -> None:
    assert AlertType.EXCESS not in verdicts(replace(BASE, recent_hours=[10, 10, 15]))
    assert not verdicts(replace(BASE, recent_hours=[0, 0, 0, 0.001]))[AlertType.EXCESS]
    assert verdicts(replace(BASE, recent_hours=[0, 0, 0, 0.05]))[AlertType.EXCESS]


def test_leak_is_flow_without_a_pause_for_the_window() -> None:
    assert verdicts(replace(BASE, flowing_since=NOW - 6 * 3600))[AlertType.LEAK]
    assert not verdicts(replace(BASE, flowing_since=NOW - 5 * 3600))[AlertType.LEAK]
    assert AlertType.LEAK not in verdicts(replace(BASE, kind=Kind.ELECTRICITY,
                                                  flowing_since=NOW - 86_400))


def test_above_mean_with_hysteresis() -> None:
    assert verdicts(replace(BASE, period_consumption=5.1))[AlertType.ABOVE_MEAN]
    assert not verdicts(replace(BASE, period_consumption=5.0))[AlertType.ABOVE_MEAN]
    still_open = replace(BASE, period_consumption=4.6,
                         open_types=frozenset({AlertType.ABOVE_MEAN}))
    assert verdicts(still_open)[AlertType.ABOVE_MEAN]  # above 90 % of the threshold
    assert not verdicts(replace(still_open, period_consumption=4.4))[AlertType.ABOVE_MEAN]


def test_above_mean_says_nothing_for_a_region_of_one() -> None:
    assert AlertType.ABOVE_MEAN not in verdicts(replace(BASE, region_meters=1,
                                                        period_consumption=100.0))


def test_above_cap_only_with_a_cap_and_for_water() -> None:
    assert verdicts(replace(BASE, cap=4.0))[AlertType.ABOVE_CAP]
    assert not verdicts(replace(BASE, cap=5.0))[AlertType.ABOVE_CAP]
    assert not verdicts(BASE)[AlertType.ABOVE_CAP]
    assert AlertType.ABOVE_CAP not in verdicts(replace(BASE, kind=Kind.ELECTRICITY, cap=1.0))


def test_silent_after_three_intervals_and_at_least_the_minimum() -> None:
    assert verdicts(replace(BASE, seen=NOW - 61))[AlertType.SILENT]  # 3 x 15 s < 60 s
    assert not verdicts(replace(BASE, seen=NOW - 59))[AlertType.SILENT]
    slow = replace(BASE, interval=900.0)
    assert not verdicts(replace(slow, seen=NOW - 2000))[AlertType.SILENT]
    assert verdicts(replace(slow, seen=NOW - 2701))[AlertType.SILENT]


def test_tamper_until_an_operator_clears_it_then_only_new_events() -> None:
    assert verdicts(replace(BASE, tamper_events=1))[AlertType.TAMPER]
    assert not verdicts(replace(BASE, tamper_events=1, tamper_events_cleared=1))[AlertType.TAMPER]
    assert verdicts(replace(BASE, tamper_events=2, tamper_events_cleared=1))[AlertType.TAMPER]


def test_transitions_open_once_and_clear_when_the_condition_ends() -> None:
    leaking = judge(replace(BASE, flowing_since=NOW - 86_400), RULES)
    opened = transitions(leaking, frozenset())
    assert [(t.type, t.open) for t in opened] == [(AlertType.LEAK, True)]
    assert transitions(leaking, frozenset({AlertType.LEAK})) == []  # no storm
    stopped = judge(BASE, RULES)
    assert [(t.type, t.open) for t in transitions(stopped, frozenset({AlertType.LEAK}))] == [
        (AlertType.LEAK, False)]


def test_tamper_is_never_cleared_automatically() -> None:
    assert transitions(judge(BASE, RULES), frozenset({AlertType.TAMPER})) == []


def test_lifecycle_open_acknowledged_cleared() -> None:
    assert acknowledge(AlertState.OPEN) is AlertState.ACKNOWLEDGED
    assert acknowledge(AlertState.ACKNOWLEDGED) is AlertState.ACKNOWLEDGED
    with pytest.raises(LifecycleError):
        acknowledge(AlertState.CLEARED)
