"""The kinds of meter nevoa knows, and the SenML names and units of their records."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

# Registers are 5-digit counters (both kinds): after 99,999.999 a register shows 0 again.
# The meter simulator wraps at it (meter/faults.py); the fog counts a wrap as consumption.
REGISTER_MODULUS = 100_000.0


@dataclass(frozen=True, slots=True)
class KindSpec:
    letter: str  # in meter ids: r1-e000001
    register_name: str  # cumulative register, SenML "s" (sum)
    register_unit: str
    rate_name: str  # instantaneous rate, SenML "v"
    rate_unit: str
    max_rate: float  # above this an instantaneous value is physically impossible


class Kind(Enum):
    ELECTRICITY = KindSpec("e", "energy", "kWh", "power", "W", 1_000_000.0)
    WATER = KindSpec("w", "volume", "m3", "flow", "m3/s", 10.0)

    @property
    def spec(self) -> KindSpec:
        return self.value

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> Kind:
        try:
            return cls[label.upper()]
        except KeyError:
            raise ValueError(
                f"unknown meter kind {label!r}: expected one of "
                + ", ".join(k.label for k in cls)
            ) from None


BY_REGISTER_NAME = {k.spec.register_name: k for k in Kind}
BY_RATE_NAME = {k.spec.rate_name: k for k in Kind}
