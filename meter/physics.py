"""How much a home consumes: daily load curves, tendencies and consumption profiles.

Pure functions of simulated time and reproducible draws; no I/O, no clocks.

* **Daily curve.** A 24-point hourly shape per kind, linear between the hours, with mean
  1 over a day: night low, a morning and an evening peak (local time, ``utc_offset``).
* **Tendency** (the water seed's): ``slow`` consumes half the usual, ``fast`` twice,
  ``erratic`` the usual on average with a wide spread and occasional bursts.
* **Household size**: each meter has a fixed factor from 0.6 to 1.6 so that the
  heaviest consumers of a region are stable, not random from one period to the next.

Electricity: a standby base load (60-150 W, never off) plus an active load of 350 W on
average, shaped by the curve. Water: usage events (taps, flushes, showers; ~40 a day of
~10 litres each) arrive at random at a rate shaped by the curve, so a normal home's flow
is exactly zero most of the night; the instantaneous flow is a tap's 0.06-0.18 l/s while
an event is under way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import ClassVar, Protocol

from meter.draws import Draws
from nevoa_core.kinds import Kind

HOUR = 3600.0
DAY = 86_400.0


class Tendency(str, Enum):
    SLOW = "slow"
    NORMAL = "normal"
    FAST = "fast"
    ERRATIC = "erratic"


# (mean factor, spread of the per-reading lognormal noise)
TENDENCY_SHAPE: dict[Tendency, tuple[float, float]] = {
    Tendency.SLOW: (0.5, 0.2),
    Tendency.NORMAL: (1.0, 0.25),
    Tendency.FAST: (2.0, 0.25),
    Tendency.ERRATIC: (1.0, 1.0),
}
ERRATIC_BURST_PROBABILITY = 0.1
ERRATIC_BURST_FACTOR = 4.0
MAX_FACTOR = 10.0  # no home draws more than ten times its usual

BASE_LOAD_W = (60.0, 150.0)  # standby: fridge, routers; scaled by household size
ACTIVE_LOAD_W = 350.0  # mean active load over a day, before tendency and household
WATER_EVENTS_PER_DAY = 40.0
WATER_EVENT_M3 = 0.010  # mean volume of one usage event
WATER_EVENT_SECONDS = 60.0  # how long a usage event runs, for the instantaneous flow
TAP_FLOW_M3S = 1.2e-4  # 0.12 l/s, drawn from 50 % to 150 %


class DailyCurve:
    """A periodic hourly shape, linear between the hours, normalised to mean 1."""

    def __init__(self, hourly: Sequence[float]) -> None:
        if len(hourly) != 24 or min(hourly) < 0:
            raise ValueError("a daily curve has 24 non-negative hourly weights")
        mean = sum(hourly) / 24
        self.points = [w / mean for w in hourly] + [hourly[0] / mean]
        self._cumulative = [0.0]
        for h in range(24):
            self._cumulative.append(self._cumulative[-1]
                                    + (self.points[h] + self.points[h + 1]) / 2)

    def at(self, hour: float) -> float:
        """The curve's value at a local hour of the day (any real number)."""
        hour %= 24.0
        h = int(hour)
        f = hour - h
        return self.points[h] + (self.points[h + 1] - self.points[h]) * f

    def _integral_hours(self, hour: float) -> float:
        """The curve integrated from local hour 0 of day 0 to ``hour`` (unit: hours)."""
        days, within = divmod(hour, 24.0)
        h = int(within)
        f = within - h
        partial = self.points[h] * f + (self.points[h + 1] - self.points[h]) * f * f / 2
        return days * 24.0 + self._cumulative[h] + partial

    def integral(self, start: float, end: float, utc_offset_hours: float) -> float:
        """The curve integrated over [start, end] epoch seconds, in seconds."""
        shift = utc_offset_hours
        return (self._integral_hours(end / HOUR + shift)
                - self._integral_hours(start / HOUR + shift)) * HOUR


ELECTRICITY_CURVE = DailyCurve([
    0.55, 0.5, 0.45, 0.45, 0.45, 0.55, 0.9, 1.3, 1.2, 0.9, 0.8, 0.8,
    0.9, 0.85, 0.8, 0.85, 1.0, 1.3, 1.8, 2.0, 1.9, 1.5, 1.1, 0.75,
])
WATER_CURVE = DailyCurve([
    0.15, 0.06, 0.04, 0.04, 0.08, 0.4, 1.6, 2.4, 1.8, 1.1, 0.9, 0.9,
    1.1, 1.0, 0.8, 0.7, 0.8, 1.2, 1.8, 2.1, 1.8, 1.3, 0.8, 0.4,
])


@dataclass(frozen=True, slots=True)
class Traits:
    """What a profile needs to know about one meter."""

    kind: Kind
    tendency: Tendency
    household: float  # fixed per meter, in [0, 1): household size


@dataclass(frozen=True, slots=True)
class Sample:
    consumed: float  # register units (kWh, m3) over the period
    rate: float | None  # instantaneous W or m3/s at the end of the period, if known


class Profile(Protocol):
    reports_rate: ClassVar[bool]  # whether readings carry an instantaneous rate

    def sample(self, traits: Traits, start: float, end: float, draws: Draws) -> Sample:
        """Consumption over [start, end] (simulated epoch seconds) and the rate at end."""
        ...


def household_factor(household: float) -> float:
    return 0.6 + household


def tendency_factor(tendency: Tendency, draws: Draws) -> float:
    """This period's multiplier: the tendency's mean times its noise (and bursts)."""
    mean, sigma = TENDENCY_SHAPE[tendency]
    factor = mean * draws.lognormal_factor(sigma)
    if tendency is Tendency.ERRATIC and draws.uniform() < ERRATIC_BURST_PROBABILITY:
        factor *= ERRATIC_BURST_FACTOR
    return min(factor, mean * MAX_FACTOR)


@dataclass(frozen=True, slots=True)
class Physics:
    """The realistic profile of both kinds (see the module docstring)."""

    utc_offset_hours: float = -3.0  # local time of the daily curve (Brasília by default)
    reports_rate: ClassVar[bool] = True

    def sample(self, traits: Traits, start: float, end: float, draws: Draws) -> Sample:
        if traits.kind is Kind.WATER:
            return self._water(traits, start, end, draws)
        return self._electricity(traits, start, end, draws)

    def local_hour(self, t: float) -> float:
        return (t / HOUR + self.utc_offset_hours) % 24.0

    def _electricity(self, traits: Traits, start: float, end: float, draws: Draws) -> Sample:
        size = household_factor(traits.household)
        base_w = (BASE_LOAD_W[0] + (BASE_LOAD_W[1] - BASE_LOAD_W[0]) * traits.household)
        active_w = ACTIVE_LOAD_W * size
        shaped = ELECTRICITY_CURVE.integral(start, end, self.utc_offset_hours)
        factor = tendency_factor(traits.tendency, draws)
        joules = base_w * (end - start) + active_w * factor * shaped
        now_factor = tendency_factor(traits.tendency, draws)
        power = base_w + active_w * ELECTRICITY_CURVE.at(self.local_hour(end)) * now_factor
        return Sample(joules / 3.6e6, round(power, 1))

    def _water(self, traits: Traits, start: float, end: float, draws: Draws) -> Sample:
        per_second = WATER_EVENTS_PER_DAY / DAY * household_factor(traits.household)
        factor = tendency_factor(traits.tendency, draws)
        expected = per_second * factor * WATER_CURVE.integral(start, end, self.utc_offset_hours)
        events = draws.poisson(expected)
        volume = sum(draws.exponential(WATER_EVENT_M3) for _ in range(events))
        rate_now = per_second * TENDENCY_SHAPE[traits.tendency][0] \
            * WATER_CURVE.at(self.local_hour(end))
        flowing = draws.uniform() < min(0.95, rate_now * WATER_EVENT_SECONDS)
        flow = TAP_FLOW_M3S * (0.5 + draws.uniform()) if flowing else 0.0
        return Sample(volume, round(flow, 7))


@dataclass(frozen=True, slots=True)
class SeedConsumption:
    """The energy seed's rule: 0 to ``max_per_second`` units each second, uniformly.

    No instantaneous rate: 10 units a second is no power a home could draw."""

    max_per_second: float = 20.0
    reports_rate: ClassVar[bool] = False

    def sample(self, traits: Traits, start: float, end: float, draws: Draws) -> Sample:
        seconds = max(0.0, end - start)
        whole = int(seconds)
        if whole <= 60:
            total = sum(draws.uniform() for _ in range(whole)) + draws.uniform() * (seconds - whole)
        else:  # the sum of many uniforms is normal (central limit); same mean and spread
            total = seconds / 2 + math.sqrt(seconds / 12) * draws.normal()
        return Sample(max(0.0, total) * self.max_per_second, None)


class ScriptedConsumption:
    """Each period consumes the next scripted amount, then nothing (exact tests, demos)."""

    reports_rate: ClassVar[bool] = False

    def __init__(self, amounts: Iterable[float]) -> None:
        self._amounts: Iterator[float] = iter(amounts)

    def sample(self, traits: Traits, start: float, end: float, draws: Draws) -> Sample:
        return Sample(next(self._amounts, 0.0), None)
