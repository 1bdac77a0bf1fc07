"""One simulated meter, free of I/O: its register, seq, valve, tendency and faults.

:meth:`SimulatedMeter.read` advances the meter to a simulated instant and returns the
reading it would send (``None`` while it is silent). The consumption comes from a
profile (:mod:`meter.physics`); the faults (:mod:`meter.faults`) then bend what the
register shows and when the meter thinks it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from meter.draws import Draws
from meter.faults import (
    CLOCK_DRIFT_RATE,
    ROLLOVER_MODULUS,
    TAMPER_MIN_ROLLBACK,
    TAMPER_ROLLBACK_FRACTION,
    Fault,
    FaultOnset,
    displayed,
    leak_consumption,
    leak_rate,
)
from meter.physics import (
    Physics,
    Profile,
    ScriptedConsumption,
    SeedConsumption,
    Tendency,
    Traits,
)
from nevoa_core.kinds import Kind
from nevoa_core.senml import Reading

__all__ = ["ScriptedConsumption", "SeedConsumption", "SimulatedMeter"]

_NO_FAULTS: tuple[FaultOnset, ...] = ()
_FIXED_KEY = b"nevoa-meter-fixed"


@dataclass(slots=True, eq=False)
class SimulatedMeter:
    meter_id: str
    kind: Kind
    profile: Profile = field(default_factory=Physics)
    register: float = 0.0  # the counter's mechanism; what it shows is ``displayed()``
    seq: int = 0
    last_time: float | None = None  # simulated time of the previous reading
    tendency: Tendency = Tendency.NORMAL
    household: float = 0.5
    interval: float = 15.0  # simulated seconds between readings
    valve_open: bool = True
    faults: tuple[FaultOnset, ...] = _NO_FAULTS
    run_start: float = 0.0  # the simulated instant fault onsets count from
    drift_since: float | None = None  # when the clock started to drift
    tamper_done: bool = False  # the tamper's one-off rollback happened
    key: bytes = _FIXED_KEY  # the run's randomness key (see meter.draws)

    def has_fault(self, fault: Fault, at: float) -> bool:
        return any(f.fault is fault and at >= self.run_start + f.after for f in self.faults)

    def traits(self) -> Traits:
        return Traits(self.kind, self.tendency, self.household)

    def read(self, now: float) -> Reading | None:
        """Advance to simulated time ``now``; the reading to send, or None if silent."""
        draws = Draws(self.key, self.meter_id, now)
        consumed, rate = self._consumption(now, draws)
        faults = self.faults
        if faults and self.has_fault(Fault.LEAK, now) and self.valve_open:
            elapsed = now - self.last_time if self.last_time is not None else 0.0
            consumed += leak_consumption(self.kind, max(0.0, elapsed))
            rate = (rate or 0.0) + leak_rate(self.kind)
        self._advance_register(consumed, now)
        self.last_time = now
        if faults and self.has_fault(Fault.SILENT, now):
            return None
        self.seq += 1
        return Reading(self.meter_id, self.seq, round(self._clock(now), 3), self.kind,
                       displayed(self.register), None if rate is None else round(rate, 7))

    def _consumption(self, now: float, draws: Draws) -> tuple[float, float | None]:
        reports_rate = self.profile.reports_rate
        if not self.valve_open:
            return 0.0, 0.0 if reports_rate else None
        if self.last_time is None:  # the first reading starts the count
            if not reports_rate:
                return 0.0, None
            return 0.0, self.profile.sample(self.traits(), now, now, draws).rate
        sample = self.profile.sample(self.traits(), self.last_time, max(now, self.last_time),
                                     draws)
        return sample.consumed, sample.rate

    def _advance_register(self, consumed: float, now: float) -> None:
        if self.faults and self.has_fault(Fault.STUCK, now):
            return
        if self.faults and self.has_fault(Fault.TAMPER, now):
            if not self.tamper_done:
                shown = self.register % ROLLOVER_MODULUS
                self.register -= max(TAMPER_MIN_ROLLBACK, TAMPER_ROLLBACK_FRACTION * shown)
                self.tamper_done = True
            self.register -= consumed
            return
        self.register += consumed

    def _clock(self, now: float) -> float:
        """The meter's own idea of the time (it may drift)."""
        if not (self.faults and self.has_fault(Fault.CLOCK_DRIFT, now)):
            return now
        if self.drift_since is None:
            self.drift_since = now
        return now + CLOCK_DRIFT_RATE * (now - self.drift_since)
