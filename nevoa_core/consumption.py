"""Consumption between register readings: the one rule, and the seed's excess check.

**The consumption rule.** Every consumer in nevoa - the fog node's ingest script
(``fog_node/record_readings.lua``, function ``consumed``), the seed's invoice
(:func:`nevoa_core.billing.flat_invoice`), the excess check below, the cloud's raw
history - counts the consumption between two consecutive readings (by seq) of a meter
with :func:`link`, and the script does the same arithmetic bit for bit:

- registers are compared in integer milli-units (Wh or litres), ``milli(x) =
  floor(x * 1000 + 0.5)`` on the float register, against the modulus ``M`` of
  :data:`~nevoa_core.kinds.REGISTER_MODULUS` in milli-units;
- ``d = milli(current) - milli(previous)``; ``d >= 0`` is consumption ``d``;
- a drop from above 90 % of ``M`` (and below ``M``) to below 10 % of it is a
  **rollover** of the 5-digit register: consumption ``d + M``, not tamper;
- any other drop is **tamper**: consumption 0, and the link is flagged.

Registers are non-negative (the wire format refuses negative ones); so is every
consumption this rule gives for them.

**The excess rule** (the energy seed's): take the 5 latest readings, i.e. the 4 latest
periods. If the newest period is at least 1.5 times the mean of the 3 periods before it,
the excess is ``newest - mean``. A newest period of zero is never excessive
(0 >= 1.5 x 0 would otherwise alarm an idle meter).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise

from nevoa_core.kinds import REGISTER_MODULUS
from nevoa_core.money import round_quantity

EXCESS_FACTOR = Decimal("1.5")
EXCESS_BASELINE_PERIODS = 3
READINGS_FOR_EXCESS_CHECK = EXCESS_BASELINE_PERIODS + 2

_MILLI_PER_UNIT = 1000
_ZERO = Decimal(0).scaleb(-3)  # 0.000


class NotEnoughReadings(ValueError):
    def __init__(self, needed: int, available: int) -> None:
        super().__init__(f"needs {needed} readings, {available} available")
        self.needed = needed
        self.available = available


def milli(register: float | Decimal) -> int:
    """A register (kWh or m3) in integer milli-units (Wh or L), rounded half up.

    The ingest script's ``milli``: the register as a double, ``floor(x * 1000 + 0.5)``.
    A Decimal is first turned into the nearest double, as the script parses its text.
    """
    return math.floor(float(register) * _MILLI_PER_UNIT + 0.5)


def modulus_milli(modulus: float = REGISTER_MODULUS) -> int:
    """The register's modulus in milli-units (100,000 kWh -> 100,000,000 Wh)."""
    return round(modulus * _MILLI_PER_UNIT)


@dataclass(frozen=True, slots=True)
class Link:
    """The consumption between two consecutive readings of a meter."""

    consumed: Decimal  # register units, exactly 3 decimals, never negative
    tampered: bool  # the register went backwards without wrapping: consumed is 0
    rollover: bool  # the register wrapped past its modulus: consumed counts through it


def consumed_milli(previous_milli: int, current_milli: int, modulus: int) -> tuple[int, bool]:
    """The rule on registers already in milli-units, as the ingest script's ``consumed``:
    ``(consumption, tampered)``."""
    d = current_milli - previous_milli
    if d >= 0:
        return d, False
    if previous_milli * 10 > 9 * modulus and previous_milli < modulus \
            and current_milli * 10 < modulus:
        return d + modulus, False
    return 0, True


def link(previous: float | Decimal, current: float | Decimal,
         modulus: float = REGISTER_MODULUS) -> Link:
    """The consumption from register ``previous`` to the next reading's ``current``."""
    before, after = milli(previous), milli(current)
    used, tampered = consumed_milli(before, after, modulus_milli(modulus))
    return Link(Decimal(used).scaleb(-3), tampered, not tampered and after < before)


def periods(registers: Sequence[float | Decimal]) -> list[Decimal]:
    """Consumption of each link between consecutive registers (given oldest first, by
    seq), by :func:`link`: a rollover counts through the modulus, a tamper counts 0."""
    return [link(earlier, later).consumed for earlier, later in pairwise(registers)]


def total(registers: Sequence[float | Decimal]) -> Decimal:
    """Consumption from the first register to the last (oldest first, by seq): the sum of
    its links, so a rollover in between counts and a tamper adds nothing."""
    return sum(periods(registers), _ZERO)


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
