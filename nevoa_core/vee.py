"""Validation at the edge (VEE): what makes a reading suspicious, and how flags read.

Wire-level checks (malformed, wrong base name, impossible values) live in
:mod:`nevoa_core.senml` and reject a pack. The checks here compare a reading with its
neighbours (by seq) of the same meter and flag the meter instead:

- **tamper**: the register went backwards (consumption cannot be negative), unless it
  wrapped: a drop from above 90 % of :data:`~nevoa_core.kinds.REGISTER_MODULUS` (and
  below it) to below 10 % of it is a **rollover**, consumption ``new + modulus - old``,
  no flag. Both are :func:`nevoa_core.consumption.link`'s, the one consumption rule
  (integer milli-units); :func:`is_rollover`, :func:`is_tamper` and :func:`consumed`
  only read its answer;
- **spike**: the register grew faster than the meter's kind physically allows, i.e.
  faster than its maximum instantaneous rate (1 MW for electricity, 10 m3/s for water);
- **gap**: seq numbers are missing between the first and the latest reading;
- **stuck**: the register repeats itself in :data:`STUCK_AFTER` readings in a row while
  each reports a non-zero rate (power/flow) that should have moved it by at least one
  unit of its last digit (Wh or L) since the reading before; readings whose rate would
  not have moved it yet neither count nor break the run. Judged as readings arrive in
  seq order (a late reading does not change the run).

The fog node applies them inside its ingest script (fog_node/record_readings.lua),
with the limits :func:`spike_limit` gives; these functions state the rules for tests
and for reading the stored flags.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from nevoa_core.consumption import link, milli
from nevoa_core.kinds import REGISTER_MODULUS, Kind

STUCK_AFTER = 3  # readings in a row repeating the register with a rate that should move it

# an instantaneous rate in the kind's rate unit, as register units per second
_RATE_TO_REGISTER_PER_SECOND = {
    Kind.ELECTRICITY: 1 / 3_600_000,  # W -> kWh/s
    Kind.WATER: 1.0,  # m3/s -> m3/s
}


def rate_to_register_per_second(kind: Kind) -> float:
    """What one unit of ``kind``'s rate (W, m3/s) adds to its register per second."""
    return _RATE_TO_REGISTER_PER_SECOND[kind]


def spike_limit(kind: Kind) -> float:
    """The fastest a register of ``kind`` can grow, in register units per second."""
    return kind.spec.max_rate * _RATE_TO_REGISTER_PER_SECOND[kind]


def is_rollover(previous_register: float, register: float,
                modulus: float = REGISTER_MODULUS) -> bool:
    """Whether the register wrapped past its last digit back to (near) 0: a drop from
    above 90 % of the modulus (and below it) to below 10 % of it, by
    :func:`nevoa_core.consumption.link`."""
    return link(previous_register, register, modulus).rollover


def is_tamper(previous_register: float, register: float,
              modulus: float = REGISTER_MODULUS) -> bool:
    """Whether the register went backwards without wrapping (a drop from above the
    modulus, 500,000 -> 5,000, included), by :func:`nevoa_core.consumption.link`."""
    return link(previous_register, register, modulus).tampered


def consumed(previous_register: float, register: float,
             modulus: float = REGISTER_MODULUS) -> float:
    """Consumption between two consecutive registers, by
    :func:`nevoa_core.consumption.link` (to the milli-unit): through a rollover it is
    ``new + modulus - old``; a register that went backwards otherwise counts 0."""
    return float(link(previous_register, register, modulus).consumed)


def stuck_step(run: int, kind: Kind, previous_register: float, register: float,
               rate: float | None, seconds: float) -> int:
    """The length of the stuck run after one more reading (``run`` before it); the meter
    is flagged when the run reaches :data:`STUCK_AFTER`. Registers repeat when they are
    the same in milli-units (:func:`nevoa_core.consumption.milli`), as the ingest
    script compares them; the expected movement is computed in its order too."""
    if milli(register) != milli(previous_register) or not rate or rate <= 0:
        return 0
    expected_milli = rate * (_RATE_TO_REGISTER_PER_SECOND[kind] * 1000) * seconds
    return run + 1 if expected_milli >= 1 else run


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
    stuck: int = 0  # times a register was found stuck (STUCK_AFTER readings in a row)

    @property
    def any(self) -> bool:
        return bool(self.tamper or self.spike or self.missing or self.stuck)

    def as_json(self) -> dict[str, object]:
        return {"tamper": self.tamper > 0, "spike": self.spike > 0, "gap": self.missing > 0,
                "stuck": self.stuck > 0,
                "counts": {"tamper": self.tamper, "spike": self.spike, "missing": self.missing,
                           "stuck": self.stuck},
                "details": list(self.details)}


def flags_from_summary(summary: Mapping[str, str]) -> Flags:
    """Read the flags the ingest script keeps in a meter's summary hash."""
    # "first missing tamper spike [stuck]", as the ingest script keeps them
    parts = (summary.get("vee") or "0 0 0 0").split(" ")
    missing, tamper, spike = (int(p) for p in parts[1:4])
    stuck = int(parts[4]) if len(parts) > 4 else 0
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
    if stuck:
        details.append(f"stuck: register unchanged over {STUCK_AFTER} readings with a "
                       f"non-zero rate {stuck} time(s), last at seq "
                       f"{summary.get('stuck_at', '?')}")
    return Flags(tamper, spike, missing, tuple(details), stuck)
