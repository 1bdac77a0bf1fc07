"""Bulk import of customers and meters from the simulator's CSV or JSON export.

One row per customer: ``registration`` (or ``matricula``), ``username``, ``meter``
(or ``meter_id``), ``region``, and optionally ``kind`` (electricity/water, derived from
a simulated meter's id when absent) and ``tariff`` (a tariff name; empty: the kind's
default). CSV has a header line; JSON is a list of objects or ``{"customers": [...]}``.

Importing is idempotent: a row equal to what the directory holds changes nothing and
is counted ``unchanged``. A row is rejected, with its reason, when it is invalid, names
a region that has no fog node, a tariff that does not exist or does not fit the meter,
repeats a registration of the same import, or takes a username or meter that belongs
to another registration. Valid rows are written in chunks, each in one transaction.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cloud.directory import Customer, Directory, InvalidCustomer, Snapshot
from nevoa_adapters.jsonapi import InvalidJson, parse_json

ALIASES = {"matricula": "registration", "meter_id": "meter"}
REQUIRED = ("registration", "username", "meter", "region")
MAX_LISTED_REJECTS = 1000
MAX_REASON_CHARS = 200  # a reason quotes the row: never all of a hostile one
CHUNK = 1000


class UnreadableImport(ValueError):
    """The body is not CSV with a header or JSON rows at all."""


@dataclass(frozen=True, slots=True)
class Rejected:
    row: int  # 1-based, counting data rows only (the CSV header is not a row)
    reason: str
    registration: str | None = None


@dataclass(slots=True)
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows, "created": self.created, "updated": self.updated,
            "unchanged": self.unchanged, "rejected_count": len(self.rejected),
            "rejected": [{"row": r.row, "registration": r.registration, "reason": r.reason}
                         for r in self.rejected[:MAX_LISTED_REJECTS]],
        }


def read_rows(body: bytes, content_type: str) -> list[Mapping[str, Any]]:
    """Rows of a CSV (``text/csv``) or JSON body."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableImport("the import must be UTF-8 text") from None
    if "json" in content_type:
        try:
            data = parse_json(text)
        except InvalidJson as exc:
            raise UnreadableImport(f"not JSON: {exc}") from None
        if isinstance(data, dict):
            data = data.get("customers", data.get("meters"))
        if not isinstance(data, list):
            raise UnreadableImport('JSON import is a list of rows or {"customers": [...]}')
        return data
    if "csv" in content_type or "text/plain" in content_type:
        try:
            reader = csv.DictReader(io.StringIO(text, newline=""))
            if not reader.fieldnames:
                raise UnreadableImport("the CSV has no header line")
            return list(reader)
        except csv.Error as exc:
            raise UnreadableImport(f"not CSV: {exc}") from None
    raise UnreadableImport("send text/csv or application/json")


def _normalise(row: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in row.items():
        if not isinstance(key, str):
            continue
        name = key.strip().lower()
        name = ALIASES.get(name, name)
        if value is None:
            continue
        out[name] = str(value).strip() if not isinstance(value, bool) else ""
    return out


TariffCheck = Callable[[Customer], str | None]  # the reason a tariff does not fit, or None


def _customer(row: Any, regions: Sequence[str] | None, tariff_problem: TariffCheck) -> Customer:
    if not isinstance(row, Mapping):
        raise InvalidCustomer("a row must be an object")
    fields = _normalise(row)
    missing = [f for f in REQUIRED if not fields.get(f)]
    if missing:
        raise InvalidCustomer("missing " + ", ".join(missing))
    customer = Customer(fields["username"], fields["registration"], fields["meter"],
                        fields["region"], fields.get("kind", "").lower(),
                        fields.get("tariff", ""))
    if regions is not None and customer.region not in regions:
        raise InvalidCustomer(f"region {customer.region!r} has no fog node "
                              f"(known: {', '.join(regions) or 'none'})")
    problem = tariff_problem(customer)
    if problem:
        raise InvalidCustomer(problem)
    return customer


def _chunks(rows: Sequence[Any], size: int) -> Iterator[tuple[int, Sequence[Any]]]:
    for start in range(0, len(rows), size):
        yield start, rows[start:start + size]


class _Batch:
    """One chunk's decisions, checked against the directory and the rows before it."""

    def __init__(self, snapshot: Snapshot, seen: dict[str, int]) -> None:
        self.snap = snapshot
        self.seen = seen
        self.usernames: dict[str, str | None] = {}
        self.meters: dict[str, str | None] = {}
        self.upserts: list[Customer] = []
        self.replaced: list[Customer] = []

    def _owner(self, overlay: dict[str, str | None], base: dict[str, str], key: str
               ) -> str | None:
        return overlay[key] if key in overlay else base.get(key)

    def conflict(self, c: Customer) -> str | None:
        first = self.seen.get(c.registration)
        if first is not None:
            return f"registration {c.registration} repeated (first at row {first})"
        owner = self._owner(self.usernames, self.snap.usernames, c.username)
        if owner not in (None, c.registration):
            return f"username {c.username!r} belongs to registration {owner}"
        owner = self._owner(self.meters, self.snap.meters, c.meter)
        if owner not in (None, c.registration):
            return f"meter {c.meter!r} belongs to registration {owner}"
        return None

    def take(self, c: Customer, row: int, report: ImportReport) -> None:
        self.seen[c.registration] = row
        existing = self.snap.customers.get(c.registration)
        if existing == c:
            report.unchanged += 1
            return
        if existing is not None:
            report.updated += 1
            self.replaced.append(existing)
            self.usernames[existing.username] = None
            self.meters[existing.meter] = None
        else:
            report.created += 1
        self.usernames[c.username] = c.registration
        self.meters[c.meter] = c.registration
        self.upserts.append(c)


def import_customers(directory: Directory, rows: Sequence[Any],
                     regions: Sequence[str] | None = None,
                     tariff_problem: TariffCheck = lambda c: None,
                     chunk: int = CHUNK) -> ImportReport:
    report = ImportReport(rows=len(rows))
    seen: dict[str, int] = {}
    for start, part in _chunks(rows, chunk):
        parsed: list[tuple[int, Customer]] = []
        for offset, raw in enumerate(part):
            row = start + offset + 1
            try:
                parsed.append((row, _customer(raw, regions, tariff_problem)))
            except InvalidCustomer as exc:
                reg = _normalise(raw).get("registration") if isinstance(raw, Mapping) else None
                report.rejected.append(Rejected(row, str(exc)[:MAX_REASON_CHARS],
                                                reg[:20] if reg else None))
        batch = _Batch(directory.snapshot([c.registration for _, c in parsed],
                                          [c.username for _, c in parsed],
                                          [c.meter for _, c in parsed]), seen)
        for row, c in parsed:
            why = batch.conflict(c)
            if why:
                report.rejected.append(Rejected(row, why, c.registration))
            else:
                batch.take(c, row, report)
        if batch.upserts:
            directory.apply(batch.upserts, batch.replaced)
    report.rejected.sort(key=lambda r: r.row)
    return report
