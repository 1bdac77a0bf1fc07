"""Alert rules a fog node decides locally, and the alert lifecycle.

Every rule looks at the facts about one meter (:class:`MeterFacts`) and says, for its
alert type, whether the condition holds now (:class:`Finding`). The fog node opens an
alert when a condition starts to hold and — for every type but tamper — clears it
when it stops. At most one alert per (meter, type) is open at a time: a condition that
keeps holding keeps its one alert instead of raising a storm.

Rules:

- **excess**: the energy seed's rule (:func:`nevoa_core.consumption.check_excess`)
  over the 4 latest complete hours: the newest hour at least 1.5 x the mean of the 3
  before, by at least ``excess_min``. The seed applied it to the 5 latest readings,
  15 s apart; on readings seconds apart that is noise (a meter that used 0.001 after
  three readings of 0 would alarm), and an hour changes once an hour: no flapping.
- **leak** (water): the meter has consumed without a single pause for ``leak_window``
  seconds (flow never zero, e.g. all night).
- **above_mean**: the meter's consumption in the policy's period is above
  ``mean_factor`` x the region's mean for meters of its kind; it clears only below
  90 % of that threshold, so a meter hovering at the mean does not flap.
- **above_cap** (water): consumption in the period is above the rationing cap.
- **silent**: nothing received for ``silent_factor`` x the meter's usual interval
  (and at least ``silent_min`` seconds).
- **tamper**: the register went backwards; cleared only by an operator, and raised
  again only by a new event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from itertools import accumulate
from typing import Any

from nevoa_core.consumption import READINGS_FOR_EXCESS_CHECK, check_excess
from nevoa_core.kinds import Kind


class AlertType(StrEnum):
    EXCESS = "excess"
    LEAK = "leak"
    ABOVE_MEAN = "above_mean"
    ABOVE_CAP = "above_cap"
    SILENT = "silent"
    TAMPER = "tamper"


class AlertState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"


CLEARED_BY_OPERATOR_ONLY = frozenset({AlertType.TAMPER})
MEAN_CLEAR_RATIO = 0.9  # hysteresis of above_mean
MIN_METERS_FOR_MEAN = 2  # a mean of one meter says nothing


class LifecycleError(ValueError):
    """A transition the lifecycle does not allow (e.g. acknowledging a cleared alert)."""


def acknowledge(state: AlertState) -> AlertState:
    """open -> acknowledged; acknowledging twice is harmless; a cleared alert is over."""
    if state is AlertState.CLEARED:
        raise LifecycleError("the alert is already cleared")
    return AlertState.ACKNOWLEDGED


@dataclass(frozen=True, slots=True)
class RuleSettings:
    leak_window: float = 6 * 3600.0
    silent_factor: float = 3.0
    silent_min: float = 60.0
    mean_factor: float = 1.0
    excess_min: float = 0.05  # register units: a smaller excess is not worth an alert


@dataclass(frozen=True, slots=True)
class MeterFacts:
    meter: str
    kind: Kind
    now: float
    recent_hours: Sequence[float]  # consumption of the latest complete hours, oldest first
    latest_time: float  # the meter's clock at its latest reading
    seen: float  # when the fog node stored the latest reading
    interval: float | None  # the meter's usual interval (its last one)
    flowing_since: float | None  # meter time since when it has consumed without a pause
    tamper_events: int  # register-went-backwards events so far
    tamper_events_cleared: int  # ... of which an operator already cleared an alert
    period_consumption: float | None  # in the policy's period, register units
    region_mean: float | None  # mean over the region's meters of the same kind
    region_meters: int
    cap: float | None  # rationing cap for the period (water), None when off
    open_types: frozenset[AlertType] = frozenset()


@dataclass(frozen=True, slots=True)
class Finding:
    type: AlertType
    holds: bool
    detail: dict[str, Any] = field(default_factory=dict)


def _number(value: Decimal | float) -> float:
    return round(float(value), 3)


def excess(f: MeterFacts, s: RuleSettings) -> Finding | None:
    periods = list(f.recent_hours)[-(READINGS_FOR_EXCESS_CHECK - 1):]
    if len(periods) < READINGS_FOR_EXCESS_CHECK - 1:
        return None  # too little history: no verdict either way
    check = check_excess([0.0, *accumulate(periods)])
    holds = check.excessive and float(check.excess) >= s.excess_min
    return Finding(AlertType.EXCESS, holds, {
        "newest_period": _number(check.newest_period),
        "baseline_mean": _number(check.baseline_mean),
        "threshold": _number(check.threshold), "excess": _number(check.excess),
        "period": "hour"})


def leak(f: MeterFacts, s: RuleSettings) -> Finding | None:
    if f.kind is not Kind.WATER:
        return None
    flowing_for = 0.0 if f.flowing_since is None else f.latest_time - f.flowing_since
    return Finding(AlertType.LEAK, flowing_for >= s.leak_window, {
        "flowing_since": f.flowing_since, "hours_without_pause": round(flowing_for / 3600, 2),
        "window_hours": round(s.leak_window / 3600, 2)})


def above_mean(f: MeterFacts, s: RuleSettings) -> Finding | None:
    if f.period_consumption is None or f.region_mean is None \
            or f.region_meters < MIN_METERS_FOR_MEAN:
        return None
    threshold = s.mean_factor * f.region_mean
    if AlertType.ABOVE_MEAN in f.open_types:
        holds = f.period_consumption > threshold * MEAN_CLEAR_RATIO
    else:
        holds = f.period_consumption > threshold and f.period_consumption > 0
    return Finding(AlertType.ABOVE_MEAN, holds, {
        "consumption": round(f.period_consumption, 3), "region_mean": round(f.region_mean, 3),
        "threshold": round(threshold, 3), "meters": f.region_meters})


def above_cap(f: MeterFacts) -> Finding | None:
    if f.kind is not Kind.WATER or f.period_consumption is None:
        return None
    holds = f.cap is not None and f.period_consumption > f.cap
    return Finding(AlertType.ABOVE_CAP, holds, {
        "consumption": round(f.period_consumption, 3), "cap": f.cap})


def silent(f: MeterFacts, s: RuleSettings) -> Finding:
    allowed = max(s.silent_min, s.silent_factor * (f.interval or 0.0))
    quiet = f.now - f.seen
    return Finding(AlertType.SILENT, quiet > allowed, {
        "silent_seconds": round(quiet, 1), "allowed_seconds": round(allowed, 1)})


def tamper(f: MeterFacts) -> Finding:
    new_events = f.tamper_events - f.tamper_events_cleared
    return Finding(AlertType.TAMPER, new_events > 0, {"events": f.tamper_events})


def judge(f: MeterFacts, s: RuleSettings) -> list[Finding]:
    """Every rule's verdict on one meter; a rule with nothing to say is left out."""
    found = [excess(f, s), leak(f, s), above_mean(f, s), above_cap(f), silent(f, s), tamper(f)]
    return [x for x in found if x is not None]


@dataclass(frozen=True, slots=True)
class Transition:
    type: AlertType
    open: bool  # True: open a new alert; False: clear the open one
    detail: dict[str, Any]


def transitions(findings: Sequence[Finding], open_types: frozenset[AlertType]
                ) -> list[Transition]:
    """What to change: open where a condition starts to hold, clear where it stopped."""
    out = []
    for x in findings:
        if x.holds and x.type not in open_types:
            out.append(Transition(x.type, True, x.detail))
        elif not x.holds and x.type in open_types and x.type not in CLEARED_BY_OPERATOR_ONLY:
            out.append(Transition(x.type, False, x.detail))
    return out
