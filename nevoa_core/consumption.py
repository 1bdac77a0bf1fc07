"""Consumption per period, and the energy seed's excess-consumption rule.

The rule: take the 5 latest readings, i.e. the 4 latest periods. If the newest period
is at least 1.5 times the mean of the 3 periods before it, the excess is
``newest - mean``. A newest period of zero is never excessive (0 >= 1.5 x 0 would
otherwise alarm an idle meter).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise

from nevoa_core.money import round_quantity, to_decimal

EXCESS_FACTOR = Decimal("1.5")
EXCESS_BASELINE_PERIODS = 3
READINGS_FOR_EXCESS_CHECK = EXCESS_BASELINE_PERIODS + 2


class NotEnoughReadings(ValueError):
    def __init__(self, needed: int, available: int) -> None:
        super().__init__(f"needs {needed} readings, {available} available")
        self.needed = needed
        self.available = available


def periods(registers: Sequence[float | Decimal]) -> list[Decimal]:
    """Consumption between consecutive register readings, oldest first."""
    values = [to_decimal(r) for r in registers]
    return [later - earlier for earlier, later in pairwise(values)]


@dataclass(frozen=True, slots=True)
class ExcessCheck:
    newest_period: Decimal
    baseline_mean: Decimal
    threshold: Decimal
    excessive: bool
    excess: Decimal  # newest - mean when excessive, else 0


def check_excess(registers: Sequence[float | Decimal]) -> ExcessCheck:
    """Apply the rule to register readings given oldest first (at least 5)."""
    if len(registers) < READINGS_FOR_EXCESS_CHECK:
        raise NotEnoughReadings(READINGS_FOR_EXCESS_CHECK, len(registers))
    recent = periods(registers[-READINGS_FOR_EXCESS_CHECK:])
    newest = recent[-1]
    mean = sum(recent[:-1], Decimal(0)) / EXCESS_BASELINE_PERIODS
    threshold = EXCESS_FACTOR * mean
    excessive = newest > 0 and newest >= threshold
    excess = newest - mean if excessive else Decimal(0)
    return ExcessCheck(
        round_quantity(newest),
        round_quantity(mean),
        round_quantity(threshold),
        excessive,
        round_quantity(excess),
    )
