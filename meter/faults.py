"""Faults a simulated meter can be given, and what each one looks like on the wire.

Each fault starts at an onset (simulated seconds after the run's start; 0 = from the
first reading) and lasts for the rest of the run. What the fog node should detect:

* ``leak`` - a constant extra flow that never stops, night included: water
  :data:`LEAK_FLOW_M3S` (18 l/h, a running toilet), electricity :data:`LEAK_POWER_W`.
  Every reading's ``flow`` is > 0 and the register grows in every period, also between
  01:00 and 05:00 local time when a normal home's flow is almost always exactly 0.
* ``tamper`` - the register goes backwards: at onset it is wound back by 10 % (at least
  1 unit), then it runs backwards by what is consumed. The newest register is below
  the one before.
* ``stuck`` - the register stops advancing while the rate record still shows
  consumption (an electricity meter's power is never 0): the same register value
  reading after reading with ``power``/``flow`` > 0.
* ``rollover`` - the register is a 5-digit counter that wraps from 99,999.999 to 0
  (:data:`ROLLOVER_MODULUS`); a meter with this fault starts a few readings below the
  wrap. The fog must count ``new + 100000 - old`` as the period's consumption and must
  not call it tampering.
* ``clock_drift`` - the meter's clock gains :data:`CLOCK_DRIFT_RATE` (36 s an hour): its
  reading times run ahead of the schedule and, at ``--speed 1``, of the time the
  readings arrive. Readings stay valid; the skew grows without bound.
* ``silent`` - the meter stays connected (its status stays ``online``) but publishes
  nothing and answers no command: readings stop arriving; the fog should raise a
  ``silent`` alert after a few missed intervals.

All meters' registers wrap at the modulus (real registers have a fixed number of
digits); only meters started near it (``rollover``) reach it in a normal run.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from nevoa_core.kinds import REGISTER_MODULUS, Kind


class Fault(str, Enum):
    LEAK = "leak"
    TAMPER = "tamper"
    STUCK = "stuck"
    ROLLOVER = "rollover"
    CLOCK_DRIFT = "clock_drift"
    SILENT = "silent"


LEAK_FLOW_M3S = 5e-6
LEAK_POWER_W = 150.0
TAMPER_ROLLBACK_FRACTION = 0.1
TAMPER_MIN_ROLLBACK = 1.0
ROLLOVER_MODULUS = REGISTER_MODULUS
ROLLOVER_READINGS_BEFORE_WRAP = 5  # a rollover meter starts this many periods below it
CLOCK_DRIFT_RATE = 0.01
# generous consumption per simulated second, to start a rollover meter below the wrap
ROLLOVER_HEADROOM_PER_SECOND = {Kind.ELECTRICITY: 0.5 / 3600, Kind.WATER: 0.05 / 3600}


@dataclass(frozen=True, slots=True)
class FaultOnset:
    fault: Fault
    after: float = 0.0  # simulated seconds after the run's start

    def __post_init__(self) -> None:
        if self.after < 0:
            raise ValueError("a fault's onset cannot be before the run starts")
        if self.fault is Fault.ROLLOVER and self.after:
            raise ValueError("rollover is a property of the register: it has no onset")


def leak_rate(kind: Kind) -> float:
    """The leak's constant extra rate: m3/s for water, W for electricity."""
    return LEAK_FLOW_M3S if kind is Kind.WATER else LEAK_POWER_W


def leak_consumption(kind: Kind, seconds: float) -> float:
    """Register units a leak adds over ``seconds``."""
    if kind is Kind.WATER:
        return LEAK_FLOW_M3S * seconds
    return LEAK_POWER_W * seconds / 3.6e6


def rollover_start(kind: Kind, interval: float) -> float:
    """A register a few readings below the wrap, so it wraps early in the run."""
    headroom = ROLLOVER_HEADROOM_PER_SECOND[kind] * interval * ROLLOVER_READINGS_BEFORE_WRAP
    return ROLLOVER_MODULUS - max(0.01, headroom)


def displayed(register: float) -> float:
    """What the register's digits show: wrapped at the modulus, to 3 decimals."""
    shown = round(register % ROLLOVER_MODULUS, 3)
    return 0.0 if shown >= ROLLOVER_MODULUS else shown
