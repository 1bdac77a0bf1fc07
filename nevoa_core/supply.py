"""Supply policies: when a meter's valve is cut, and when it is restored.

A region's policy has a rationing cap (volume per period, water meters) and two
switches: cut a meter above the cap, cut a meter above the regional mean. A meter cut
by a policy is restored by the same policy once its reason no longer holds (a new
period began, the cap was raised, the policy was switched off). A cut for an unpaid
bill (``debt``) or by an operator (``manual``) is never undone automatically: payment
or an operator restores it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from nevoa_core.periods import Step


class CutReason(StrEnum):
    MANUAL = "manual"
    DEBT = "debt"
    CAP = "cap"
    MEAN = "mean"
    PAYMENT = "payment"  # the reason a debt cut is restored


POLICY_REASONS = frozenset({CutReason.CAP, CutReason.MEAN})
POLICY_STEPS = (Step.DAY, Step.MONTH)
MAX_RATIONING_CAP = 1_000_000.0  # m3 per period: far above any meter, below absurd
MAX_MEAN_FACTOR = 1000.0


class PolicyError(ValueError):
    """A policy change that is not valid; nothing is changed."""


@dataclass(frozen=True, slots=True)
class SupplyPolicy:
    rationing_cap: float | None = None  # m3 per period; None: no rationing
    cap_period: Step = Step.DAY
    cut_above_cap: bool = False
    cut_above_mean: bool = False
    mean_factor: float = 1.0  # "above the mean" means above mean_factor x mean

    def as_json(self) -> dict[str, Any]:
        return {"rationing_cap": self.rationing_cap, "cap_period": self.cap_period.value,
                "cut_above_cap": self.cut_above_cap, "cut_above_mean": self.cut_above_mean,
                "mean_factor": self.mean_factor}


def _positive_number(value: object, name: str, allow_none: bool, most: float) -> float | None:
    if value is None and allow_none:
        return None
    # the range first: NaN compares false, and a 400-digit int is never made a float
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= most:
        raise PolicyError(f"{name} must be a number from 0 to {most:g}"
                          + (" or null" if allow_none else ""))
    return float(value)


def updated_policy(policy: SupplyPolicy, changes: Mapping[str, Any]) -> SupplyPolicy:
    """The policy with ``changes`` (a partial JSON body) applied, or PolicyError."""
    known = {"rationing_cap", "cap_period", "cut_above_cap", "cut_above_mean", "mean_factor"}
    unknown = set(changes) - known
    if unknown:
        names = sorted(unknown)
        raise PolicyError("unknown policy fields: "
                          + ", ".join(repr(n[:40]) for n in names[:5])
                          + (f" and {len(names) - 5} more" if len(names) > 5 else "")
                          + "; the fields are " + ", ".join(sorted(known)))
    new: dict[str, Any] = {}
    if "rationing_cap" in changes:
        new["rationing_cap"] = _positive_number(changes["rationing_cap"], "rationing_cap", True,
                                                MAX_RATIONING_CAP)
    if "cap_period" in changes:
        if not isinstance(changes["cap_period"], str) \
                or changes["cap_period"] not in [s.value for s in POLICY_STEPS]:
            raise PolicyError("cap_period must be 'day' or 'month'")
        new["cap_period"] = Step(changes["cap_period"])
    for switch in ("cut_above_cap", "cut_above_mean"):
        if switch in changes:
            if not isinstance(changes[switch], bool):
                raise PolicyError(f"{switch} must be true or false")
            new[switch] = changes[switch]
    if "mean_factor" in changes:
        factor = _positive_number(changes["mean_factor"], "mean_factor", False,
                                  MAX_MEAN_FACTOR)
        if not factor:
            raise PolicyError("mean_factor must be greater than 0")
        new["mean_factor"] = factor
    return replace(policy, **new)


class SupplyAction(StrEnum):
    CUT = "close_valve"
    RESTORE = "open_valve"


@dataclass(frozen=True, slots=True)
class SupplyDecision:
    action: SupplyAction
    reason: CutReason


def decide_supply(policy: SupplyPolicy, valve: str | None, closed_reason: str | None,
                  above_cap: bool, above_mean: bool, command_pending: bool
                  ) -> SupplyDecision | None:
    """What the policy does to one water meter now, if anything."""
    if command_pending:
        return None  # one valve command at a time: wait for its outcome
    cap_applies = policy.cut_above_cap and policy.rationing_cap is not None and above_cap
    mean_applies = policy.cut_above_mean and above_mean
    if valve != "closed":
        if cap_applies:
            return SupplyDecision(SupplyAction.CUT, CutReason.CAP)
        if mean_applies:
            return SupplyDecision(SupplyAction.CUT, CutReason.MEAN)
        return None
    if closed_reason in POLICY_REASONS and not (cap_applies or mean_applies):
        return SupplyDecision(SupplyAction.RESTORE, CutReason(closed_reason))
    return None
