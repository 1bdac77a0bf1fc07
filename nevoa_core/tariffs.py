"""Tariffs: how consumption is priced. Tariffs are configuration; this module reads them.

Four shapes of tariff (prices are Decimal strings in the configuration, never floats):

* ``flat`` — the energy seed: ``rate`` per unit consumed.
* ``tiered`` — water blocks: ``minimum_charge`` covers consumption up to
  ``minimum_block``; each band then prices the units above the previous band's
  ``up_to`` (the first band starts at ``minimum_block``) up to its own ``up_to``, and
  the last band (``up_to: null``) everything above.
* ``electricity`` — a ``fixed_charge`` per period, ``price_per_unit`` per kWh, and a
  surcharge per kWh set by the month's tariff flag (green / yellow / red1 / red2).
* ``time_of_use`` — electricity priced by the hour it is used (Brazil's *tarifa
  branca*, :mod:`nevoa_core.time_of_use`): ``prices`` per kWh of each post (``peak``,
  ``intermediate``, ``off_peak``), ``peak_hours`` and ``intermediate_hours`` as local
  clock windows ``[{"from": "18:00", "to": "21:00"}]`` of working days (every other hour,
  weekends and ``holidays`` are off-peak), plus ``fixed_charge`` and ``flag_surcharges``
  as for ``electricity``.

Every tariff may carry ``taxes``: ``[{"name": "ICMS", "rate": "0.18"}]``, each charged on
the subtotal of the invoice lines. A tariff book maps names to tariffs and says which
one each meter kind uses by default, and may list ``holidays`` (ISO dates) that every
time-of-use tariff treats as off-peak, besides the tariff's own ``holidays``::

    {"currency": "BRL", "defaults": {"electricity": "residential", "water": "water"},
     "holidays": ["2026-12-25"],
     "tariffs": {"residential": {"type": "electricity", ...}, ...}}

A tariff may carry a free-text ``description``; pricing ignores it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from nevoa_core.kinds import Kind
from nevoa_core.time_of_use import ClockHours, InvalidSchedule, Post, Schedule

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
CLOCK_HOUR = re.compile(r"(\d{2}):(\d{2})")


class Flag(StrEnum):
    """The monthly tariff flag (Brazil's *bandeiras*): the cost of generating power."""

    GREEN = "green"
    YELLOW = "yellow"
    RED1 = "red1"
    RED2 = "red2"


class TariffError(ValueError):
    """A tariff configuration that cannot price anything correctly."""


@dataclass(frozen=True, slots=True)
class Tax:
    name: str
    rate: Decimal  # a fraction: 0.18 is 18 %


@dataclass(frozen=True, slots=True)
class Band:
    up_to: Decimal | None  # None: no upper bound (the last band)
    price: Decimal  # per unit within the band


@dataclass(frozen=True, slots=True)
class FlatTariff:
    name: str
    unit: str
    rate: Decimal
    taxes: tuple[Tax, ...] = ()


@dataclass(frozen=True, slots=True)
class TieredTariff:
    name: str
    unit: str
    minimum_charge: Decimal
    minimum_block: Decimal
    bands: tuple[Band, ...]
    taxes: tuple[Tax, ...] = ()


@dataclass(frozen=True, slots=True)
class ElectricityTariff:
    name: str
    unit: str
    fixed_charge: Decimal
    price_per_unit: Decimal
    flag_surcharges: Mapping[Flag, Decimal]  # per unit
    taxes: tuple[Tax, ...] = ()


@dataclass(frozen=True, slots=True)
class TimeOfUseTariff:
    name: str
    unit: str
    fixed_charge: Decimal
    prices: Mapping[Post, Decimal]  # per unit, every post
    schedule: Schedule
    flag_surcharges: Mapping[Flag, Decimal]  # per unit, on the whole consumption
    taxes: tuple[Tax, ...] = ()


Tariff = FlatTariff | TieredTariff | ElectricityTariff | TimeOfUseTariff


@dataclass(frozen=True, slots=True)
class TariffBook:
    currency: str
    tariffs: Mapping[str, Tariff]
    defaults: Mapping[Kind, str] = field(default_factory=dict)

    def get(self, name: str) -> Tariff:
        try:
            return self.tariffs[name]
        except KeyError:
            raise TariffError(f"no tariff named {name!r}") from None

    def for_kind(self, kind: Kind, name: str | None = None) -> Tariff:
        """The tariff ``name`` if given, else the kind's default."""
        if name:
            return self.get(name)
        default = self.defaults.get(kind)
        if default is None:
            raise TariffError(f"no default tariff for {kind.label} meters")
        return self.get(default)


def _decimal(raw: Any, what: str) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise TariffError(f"{what} must be a decimal string such as \"6.50\" (not a float)")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise TariffError(f"{what} {raw!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise TariffError(f"{what} must be a finite number >= 0")
    return value


def _taxes(raw: Any, where: str) -> tuple[Tax, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise TariffError(f"{where}.taxes must be a list")
    taxes = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise TariffError(f"{where}.taxes[{i}] needs a name and a rate")
        rate = _decimal(item.get("rate"), f"{where}.taxes[{i}].rate")
        if rate >= 1:
            raise TariffError(f"{where}.taxes[{i}].rate is a fraction below 1 (0.18 = 18 %)")
        taxes.append(Tax(item["name"], rate))
    return tuple(taxes)


def _bands(raw: Any, minimum_block: Decimal, where: str) -> tuple[Band, ...]:
    if not isinstance(raw, list) or not raw:
        raise TariffError(f"{where}.bands must be a non-empty list")
    bands: list[Band] = []
    floor = minimum_block
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise TariffError(f"{where}.bands[{i}] must be an object")
        raw_up_to = item.get("up_to")
        up_to = None if raw_up_to is None else _decimal(raw_up_to, f"{where}.bands[{i}].up_to")
        last = i == len(raw) - 1
        if (up_to is None) != last:
            raise TariffError(f"{where}: only the last band is open-ended (up_to: null)")
        if up_to is not None and up_to <= floor:
            raise TariffError(f"{where}.bands[{i}].up_to must be above {floor}")
        bands.append(Band(up_to, _decimal(item.get("price"), f"{where}.bands[{i}].price")))
        floor = up_to if up_to is not None else floor
    return tuple(bands)


def _flags(raw: Any, where: str) -> dict[Flag, Decimal]:
    if not isinstance(raw, dict):
        raise TariffError(f"{where}.flag_surcharges must map each flag to a price per unit")
    unknown = set(raw) - {f.value for f in Flag}
    if unknown:
        raise TariffError(f"{where}: unknown flag(s) {sorted(unknown)}")
    return {f: _decimal(raw.get(f.value, "0"), f"{where}.flag_surcharges.{f.value}")
            for f in Flag}


def _clock_hour(raw: Any, what: str) -> int:
    match = CLOCK_HOUR.fullmatch(raw) if isinstance(raw, str) else None
    if match is None:
        raise TariffError(f"{what} must be a local clock hour such as \"18:00\", not {raw!r}")
    hour, minute = int(match[1]), int(match[2])
    if minute != 0 or hour > 24:
        raise TariffError(f"{what} {raw!r} is not a whole hour from 00:00 to 24:00 (the "
                          "fog's hourly buckets start at whole local hours)")
    return hour


def _windows(raw: Any, what: str, required: bool) -> tuple[ClockHours, ...]:
    if not isinstance(raw, list) or (required and not raw):
        raise TariffError(f"{what} must be a {'non-empty ' if required else ''}list of "
                          '{"from": "18:00", "to": "21:00"}')
    windows = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise TariffError(f"{what}[{i}] must be an object with from and to")
        start = _clock_hour(item.get("from"), f"{what}[{i}].from")
        end = _clock_hour(item.get("to"), f"{what}[{i}].to")
        if start >= end:
            raise TariffError(f"{what}[{i}]: to must be after from on the same day (24:00 "
                              "is midnight; split a window that crosses midnight in two)")
        windows.append(ClockHours(start, end))
    return tuple(windows)


def _holidays(raw: Any, what: str) -> frozenset[date]:
    """ISO dates ``["2026-12-25", ...]``; raises :class:`TariffError` naming the item."""
    if raw is None:
        return frozenset()
    if not isinstance(raw, list):
        raise TariffError(f"{what} must be a list of dates such as \"2026-12-25\"")
    days = set()
    for i, item in enumerate(raw):
        if not isinstance(item, str) or not ISO_DATE.fullmatch(item):
            raise TariffError(f"{what}[{i}] must be a date written YYYY-MM-DD, not {item!r}")
        try:
            days.add(date.fromisoformat(item))
        except ValueError:
            raise TariffError(f"{what}[{i}] {item!r} is not a date") from None
    return frozenset(days)


def _post_prices(raw: Any, where: str) -> dict[Post, Decimal]:
    if not isinstance(raw, dict):
        raise TariffError(f"{where}.prices must map each post ("
                          + ", ".join(p.value for p in Post) + ") to a price per unit")
    unknown = set(raw) - {p.value for p in Post}
    if unknown:
        raise TariffError(f"{where}: unknown post(s) {sorted(unknown)}")
    return {p: _decimal(raw.get(p.value), f"{where}.prices.{p.value}") for p in Post}


def _time_of_use(name: str, raw: Mapping[str, Any], taxes: tuple[Tax, ...],
                 holidays: frozenset[date]) -> TimeOfUseTariff:
    where = f"tariffs.{name}"
    peak = _windows(raw.get("peak_hours"), f"{where}.peak_hours", required=True)
    intermediate = _windows(raw.get("intermediate_hours", []), f"{where}.intermediate_hours",
                            required=False)
    own = _holidays(raw.get("holidays"), f"{where}.holidays")
    try:
        schedule = Schedule(peak, intermediate, holidays | own)
    except InvalidSchedule as exc:
        raise TariffError(f"{where}: {exc}") from None
    return TimeOfUseTariff(
        name, str(raw.get("unit") or "kWh"),
        _decimal(raw.get("fixed_charge"), f"{where}.fixed_charge"),
        _post_prices(raw.get("prices"), where), schedule,
        _flags(raw.get("flag_surcharges", {}), where), taxes)


def parse_tariff(name: str, raw: Mapping[str, Any],
                 holidays: frozenset[date] = frozenset()) -> Tariff:
    """One tariff; ``holidays`` are the book's, added to a time-of-use tariff's own."""
    where = f"tariffs.{name}"
    kind = raw.get("type")
    taxes = _taxes(raw.get("taxes"), where)
    unit = raw.get("unit")
    if kind == "flat":
        return FlatTariff(name, str(unit or "unit"), _decimal(raw.get("rate"), f"{where}.rate"),
                          taxes)
    if kind == "tiered":
        block = _decimal(raw.get("minimum_block"), f"{where}.minimum_block")
        return TieredTariff(name, str(unit or "m3"),
                            _decimal(raw.get("minimum_charge"), f"{where}.minimum_charge"),
                            block, _bands(raw.get("bands"), block, where), taxes)
    if kind == "electricity":
        return ElectricityTariff(
            name, str(unit or "kWh"),
            _decimal(raw.get("fixed_charge"), f"{where}.fixed_charge"),
            _decimal(raw.get("price_per_unit"), f"{where}.price_per_unit"),
            _flags(raw.get("flag_surcharges", {}), where), taxes)
    if kind == "time_of_use":
        return _time_of_use(name, raw, taxes, holidays)
    raise TariffError(f"{where}.type must be flat, tiered, electricity or time_of_use, "
                      f"not {kind!r}")


def parse_tariff_book(raw: Mapping[str, Any]) -> TariffBook:
    """Read a tariff book from its JSON form; raises :class:`TariffError` with the field."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("tariffs"), Mapping):
        raise TariffError("a tariff book is an object with a 'tariffs' object")
    holidays = _holidays(raw.get("holidays"), "holidays")
    tariffs = {name: parse_tariff(name, spec, holidays)
               for name, spec in raw["tariffs"].items() if _is_mapping(spec, name)}
    defaults: dict[Kind, str] = {}
    for label, name in (raw.get("defaults") or {}).items():
        kind = Kind.from_label(label)
        if name not in tariffs:
            raise TariffError(f"defaults.{label} names no tariff: {name!r}")
        defaults[kind] = name
    return TariffBook(str(raw.get("currency", "BRL")), tariffs, defaults)


def _is_mapping(spec: Any, name: str) -> bool:
    if not isinstance(spec, Mapping):
        raise TariffError(f"tariffs.{name} must be an object")
    return True
