"""Supply policies: validation of changes, and when a valve is cut or restored."""

from __future__ import annotations

import pytest

from nevoa_core.periods import Step
from nevoa_core.supply import (
    CutReason,
    PolicyError,
    SupplyAction,
    SupplyDecision,
    SupplyPolicy,
    decide_supply,
    updated_policy,
)

CAP_ON = SupplyPolicy(rationing_cap=10.0, cap_period=Step.DAY, cut_above_cap=True)
MEAN_ON = SupplyPolicy(cut_above_mean=True)


def test_partial_changes_keep_the_rest() -> None:
    p = updated_policy(CAP_ON, {"cap_period": "month"})
    assert p == SupplyPolicy(10.0, Step.MONTH, True, False)
    assert updated_policy(p, {"rationing_cap": None}).rationing_cap is None


@pytest.mark.parametrize("changes", [
    {"rationing_cap": -1}, {"rationing_cap": "10"}, {"rationing_cap": True},
    {"rationing_cap": float("inf")}, {"cap_period": "hour"}, {"cut_above_cap": 1},
    {"mean_factor": 0}, {"surprise": 1},
])
def test_invalid_changes_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(PolicyError):
        updated_policy(CAP_ON, changes)


def test_above_the_cap_cuts_when_the_policy_says_so() -> None:
    cut = SupplyDecision(SupplyAction.CUT, CutReason.CAP)
    assert decide_supply(CAP_ON, "open", None, True, False, False) == cut
    assert decide_supply(CAP_ON, None, None, True, False, False) == cut  # unknown valve
    assert decide_supply(SupplyPolicy(rationing_cap=10.0), "open", None, True, False,
                         False) is None  # policy off


def test_above_the_mean_cuts_when_the_policy_says_so() -> None:
    assert decide_supply(MEAN_ON, "open", None, False, True, False) == SupplyDecision(
        SupplyAction.CUT, CutReason.MEAN)
    assert decide_supply(MEAN_ON, "open", None, False, False, False) is None


def test_a_policy_cut_is_restored_when_its_reason_ends() -> None:
    restore = SupplyDecision(SupplyAction.RESTORE, CutReason.CAP)
    assert decide_supply(CAP_ON, "closed", "cap", False, False, False) == restore
    assert decide_supply(CAP_ON, "closed", "cap", True, False, False) is None
    off = updated_policy(CAP_ON, {"cut_above_cap": False})
    assert decide_supply(off, "closed", "cap", True, False, False) == restore


def test_a_debt_or_manual_cut_is_never_undone_by_a_policy() -> None:
    for reason in ("debt", "manual"):
        assert decide_supply(CAP_ON, "closed", reason, False, False, False) is None


def test_one_valve_command_at_a_time() -> None:
    assert decide_supply(CAP_ON, "open", None, True, False, True) is None
