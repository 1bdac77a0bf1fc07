"""Who in the fleet gets which tendency and which faults: parsing and assignment.

Tendencies: ``normal`` (every meter), or fleet fractions ``slow=0.2,fast=0.1,erratic=5%``
(the rest is ``normal``), plus per-meter overrides ``r1-w000007=erratic`` or ``7=erratic``.

Faults: ``NAME=WHO[@AFTER]`` where WHO is a fraction of the fleet (``0.02`` or ``2%``) or
a comma-separated list of meter ids or indexes (``r1-w000007,12``; a bare integer is
an index, a fraction has a point or a percent sign), and AFTER the onset
in simulated seconds after the start (``@3600``; suffixes ``s``, ``m``, ``h``, ``d``).

Fractions pick an exact count (rounded) of meters, chosen by a hash keyed with the run
seed: the same seed picks the same meters, and each fault picks independently.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from meter.faults import Fault, FaultOnset
from meter.physics import Tendency

MeterRef = Callable[[str], str]  # "7" or "r1-e000007" -> "r1-e000007"

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)")
_UNIT = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0}


class SpecError(ValueError):
    """A tendency or fault specification that cannot be understood."""


def parse_duration(text: str) -> float:
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise SpecError(f"{text!r} is not a duration like 90, 15m, 6h or 2d")
    return float(match.group(1)) * _UNIT[match.group(2)]


def parse_fraction(text: str) -> float:
    text = text.strip()
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise SpecError(f"{text!r} is not a fraction like 0.05 or 5%") from None
    if not 0.0 <= value <= 1.0:
        raise SpecError(f"fraction {text!r} is not between 0 and 1")
    return value


def _tendency(name: str) -> Tendency:
    try:
        return Tendency(name.strip())
    except ValueError:
        raise SpecError(f"unknown tendency {name.strip()!r}: expected "
                        + ", ".join(t.value for t in Tendency)) from None


def parse_tendency_mix(text: str) -> dict[Tendency, float]:
    """``normal`` or ``slow=0.2,fast=10%``; the fractions not given are normal."""
    if "=" not in text:
        return {_tendency(text): 1.0}
    mix: dict[Tendency, float] = {}
    for part in text.split(","):
        name, _, fraction = part.partition("=")
        mix[_tendency(name)] = parse_fraction(fraction)
    if sum(mix.values()) > 1.0 + 1e-9:
        raise SpecError(f"tendency fractions {text!r} add up to more than 1")
    return mix


def parse_tendency_override(text: str, ref: MeterRef) -> tuple[str, Tendency]:
    who, sep, name = text.partition("=")
    if not sep:
        raise SpecError(f"{text!r} is not METER=TENDENCY")
    return ref(who.strip()), _tendency(name)


@dataclass(frozen=True, slots=True)
class FaultRule:
    onset: FaultOnset
    fraction: float | None = None
    meters: frozenset[str] = frozenset()


def parse_fault(text: str, ref: MeterRef) -> FaultRule:
    name, sep, who = text.partition("=")
    try:
        fault = Fault(name.strip().replace("-", "_"))
    except ValueError:
        raise SpecError(f"unknown fault {name.strip()!r}: expected "
                        + ", ".join(f.value for f in Fault)) from None
    if not sep or not who.strip():
        raise SpecError(f"{text!r} does not say which meters: {name}=0.05 or {name}=r1-e000007")
    who, _, after = who.partition("@")
    try:
        onset = FaultOnset(fault, parse_duration(after) if after else 0.0)
    except ValueError as exc:
        raise SpecError(f"{text!r}: {exc}") from None
    parts = [p.strip() for p in who.split(",") if p.strip()]
    if len(parts) == 1 and re.fullmatch(r"\d*\.\d+%?|\d+%", parts[0]):
        return FaultRule(onset, fraction=parse_fraction(parts[0]))
    return FaultRule(onset, meters=frozenset(ref(p) for p in parts))


def _rank(key: bytes, label: str, meter_ids: Sequence[str]) -> list[int]:
    """The fleet's positions in an order fixed by the run key and a label."""
    def score(i: int) -> bytes:
        return hashlib.blake2b(f"{label}:{meter_ids[i]}".encode(), key=key,
                               digest_size=8).digest()
    return sorted(range(len(meter_ids)), key=score)


def assign_tendencies(meter_ids: Sequence[str], mix: dict[Tendency, float],
                      overrides: dict[str, Tendency], key: bytes) -> list[Tendency]:
    chosen = [Tendency.NORMAL] * len(meter_ids)
    order = _rank(key, "tendency", meter_ids)
    start = 0
    for tendency, fraction in mix.items():
        count = round(fraction * len(meter_ids))
        for i in order[start : start + count]:
            chosen[i] = tendency
        start += count
    position = {m: i for i, m in enumerate(meter_ids)}
    for meter, tendency in overrides.items():
        if meter in position:
            chosen[position[meter]] = tendency
    return chosen


def assign_faults(meter_ids: Sequence[str], rules: Sequence[FaultRule],
                  key: bytes) -> list[tuple[FaultOnset, ...]]:
    faults: list[list[FaultOnset]] = [[] for _ in meter_ids]
    for n, rule in enumerate(rules):
        if rule.fraction is not None:
            count = round(rule.fraction * len(meter_ids))
            picked = _rank(key, f"fault{n}:{rule.onset.fault.value}", meter_ids)[:count]
        else:
            picked = [i for i, m in enumerate(meter_ids) if m in rule.meters]
        for i in picked:
            faults[i].append(rule.onset)
    return [tuple(f) for f in faults]
