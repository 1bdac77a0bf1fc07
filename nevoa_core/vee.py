"""Validation at the edge (VEE): what makes a reading suspicious, and how flags read.

Wire-level checks (malformed, wrong base name, impossible values) live in
:mod:`nevoa_core.senml` and reject a pack. The checks here compare a reading with its
neighbours (by seq) of the same meter and flag the meter instead:

- **tamper**: the register went backwards (consumption cannot be negative);
- **spike**: the register grew faster than the meter's kind physically allows, i.e.
  faster than its maximum instantaneous rate (1 MW for electricity, 10 m3/s for water);
- **gap**: seq numbers are missing between the first and the latest reading.

The fog node applies them inside its ingest script (fog_node/record_readings.lua),
with the limits :func:`spike_limit` gives; these functions state the rules for tests
and for reading the stored flags.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from nevoa_core.kinds import Kind

# an instantaneous rate in the kind's rate unit, as register units per second
_RATE_TO_REGISTER_PER_SECOND = {
    Kind.ELECTRICITY: 1 / 3_600_000,  # W -> kWh/s
    Kind.WATER: 1.0,  # m3/s -> m3/s
}


def spike_limit(kind: Kind) -> float:
    """The fastest a register of ``kind`` can grow, in register units per second."""
    return kind.spec.max_rate * _RATE_TO_REGISTER_PER_SECOND[kind]


def is_tamper(previous_register: float, register: float) -> bool:
    return register < previous_register


def is_spike(kind: Kind, consumed: float, seconds: float) -> bool:
    """Whether consuming ``consumed`` register units in ``seconds`` is impossible."""
    if consumed <= 0:
        return False
    return seconds <= 0 or consumed / seconds > spike_limit(kind)


def missing_between(previous_seq: int, seq: int) -> int:
    """Readings missing between two consecutive ones received."""
    return max(0, seq - previous_seq - 1)


@dataclass(frozen=True, slots=True)
class Flags:
    tamper: int  # events seen
    spike: int
    missing: int  # seq numbers still missing between the first and the latest reading
    details: tuple[str, ...]

    @property
    def any(self) -> bool:
        return bool(self.tamper or self.spike or self.missing)

    def as_json(self) -> dict[str, object]:
        return {"tamper": self.tamper > 0, "spike": self.spike > 0, "gap": self.missing > 0,
                "counts": {"tamper": self.tamper, "spike": self.spike, "missing": self.missing},
                "details": list(self.details)}


def flags_from_summary(summary: Mapping[str, str]) -> Flags:
    """Read the flags the ingest script keeps in a meter's summary hash."""
    # "first missing tamper spike", as the ingest script keeps them
    parts = (summary.get("vee") or "0 0 0 0").split(" ")
    missing, tamper, spike = (int(p) for p in parts[1:4])
    details = []
    if tamper:
        details.append(f"tamper: register went backwards {tamper} time(s), last at seq "
                       f"{summary.get('tamper_at', '?')} (registers in Wh or L)")
    if spike:
        details.append(f"spike: impossible rate {spike} time(s), last at seq "
                       f"{summary.get('spike_at', '?')} (consumed/seconds)")
    if missing:
        details.append(f"gap: {missing} reading(s) missing, last gap at seq "
                       f"{summary.get('gap_at', '?')}")
    return Flags(tamper, spike, missing, tuple(details))
