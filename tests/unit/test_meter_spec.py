"""Tendency and fault specifications: parsing, and who in the fleet gets what."""

from __future__ import annotations

from collections import Counter

import pytest

from meter.draws import new_seed
from meter.faults import Fault, FaultOnset
from meter.physics import Tendency
from meter.spec import (
    SpecError,
    assign_faults,
    assign_tendencies,
    parse_duration,
    parse_fault,
    parse_tendency_mix,
    parse_tendency_override,
)
from nevoa_core.ids import meter_id

IDS = [meter_id("r1", "w", i) for i in range(1, 1001)]


def ref(text: str) -> str:
    return meter_id("r1", "w", int(text)) if text.isdigit() else text


def test_tendency_mixes() -> None:
    assert parse_tendency_mix("fast") == {Tendency.FAST: 1.0}
    assert parse_tendency_mix("slow=0.2,erratic=5%") == {Tendency.SLOW: 0.2,
                                                         Tendency.ERRATIC: 0.05}
    for bad in ("wild", "slow=0.7,fast=0.4", "slow=2", "slow=x"):
        with pytest.raises(SpecError):
            parse_tendency_mix(bad)
    assert parse_tendency_override("7=erratic", ref) == ("r1-w000007", Tendency.ERRATIC)


def test_fault_specs() -> None:
    rule = parse_fault("leak=2%", ref)
    assert rule.fraction == 0.02 and rule.onset == FaultOnset(Fault.LEAK)
    rule = parse_fault("silent=0.5@6h", ref)
    assert rule.fraction == 0.5 and rule.onset == FaultOnset(Fault.SILENT, 6 * 3600)
    rule = parse_fault("clock-drift=r1-w000003,12@90", ref)
    assert rule.meters == {"r1-w000003", "r1-w000012"} and rule.onset.after == 90
    assert parse_fault("tamper=1", ref).meters == {"r1-w000001"}  # a bare integer: an index
    for bad in ("fire=0.1", "leak", "leak=", "rollover=0.1@1h", "leak=0.1@soon", "leak=150%"):
        with pytest.raises(SpecError):
            parse_fault(bad, ref)
    assert parse_duration("2d") == 172_800 and parse_duration("15m") == 900


def test_fractions_pick_exact_counts_reproducibly() -> None:
    key = new_seed(1)
    mix = parse_tendency_mix("slow=0.2,fast=0.1,erratic=0.05")
    chosen = assign_tendencies(IDS, mix, {"r1-w000001": Tendency.FAST}, key)
    counts = Counter(chosen)
    assert counts[Tendency.SLOW] + counts[Tendency.FAST] + counts[Tendency.ERRATIC] in (350, 351)
    assert chosen[0] is Tendency.FAST
    assert chosen == assign_tendencies(IDS, mix, {"r1-w000001": Tendency.FAST}, key)
    assert chosen != assign_tendencies(IDS, mix, {}, new_seed(2))


def test_faults_are_assigned_independently() -> None:
    key = new_seed(1)
    rules = [parse_fault("leak=10%", ref), parse_fault("tamper=10%", ref),
             parse_fault("stuck=5,6", ref)]
    faults = assign_faults(IDS, rules, key)
    leaks = {i for i, f in enumerate(faults) if FaultOnset(Fault.LEAK) in f}
    tampers = {i for i, f in enumerate(faults) if FaultOnset(Fault.TAMPER) in f}
    assert len(leaks) == len(tampers) == 100 and leaks != tampers
    assert [i for i, f in enumerate(faults) if FaultOnset(Fault.STUCK) in f] == [4, 5]
    assert faults == assign_faults(IDS, rules, key)
