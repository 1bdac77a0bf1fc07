"""The provisioning export: the fleet as the cloud's bulk import reads it.

CSV (header first) and JSON (an array of objects) carry the same five fields per meter::

    meter_id,kind,region,username,registration
    r1-e000001,electricity,r1,maria,10001
    r1-e000002,electricity,r1,customer-r1-000002,1000002

The customer naming is :mod:`nevoa_core.fleet_naming`, shared with the cloud's demo
directory. ``broker/gen_accounts.py --fleet-csv`` reads the same CSV (``meter_id`` and
``region``) to create per-meter broker accounts.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from nevoa_core.fleet_naming import customer_naming
from nevoa_core.ids import meter_id
from nevoa_core.kinds import Kind

FIELDS = ("meter_id", "kind", "region", "username", "registration")


@dataclass(frozen=True, slots=True)
class ProvisionedMeter:
    meter_id: str
    kind: str
    region: str
    username: str
    registration: str


def fleet_rows(region: str, number: int, kind: Kind, indexes: Iterable[int]
               ) -> Iterator[ProvisionedMeter]:
    for i in indexes:
        who = customer_naming(region, number, i)
        yield ProvisionedMeter(meter_id(region, kind.spec.letter, i), kind.label, region,
                               who.username, who.registration)


def to_csv(rows: Iterable[ProvisionedMeter]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    writer.writerows([getattr(r, f) for f in FIELDS] for r in rows)
    return out.getvalue()


def to_json(rows: Iterable[ProvisionedMeter]) -> str:
    return json.dumps([asdict(r) for r in rows], indent=1) + "\n"


def write_export(target: str, rows: list[ProvisionedMeter]) -> str:
    """Write to ``target`` (``.json`` -> JSON, anything else CSV; ``-`` = CSV on stdout
    returned instead); returns what was written when the target is stdout."""
    text = to_json(rows) if target.endswith(".json") else to_csv(rows)
    if target == "-":
        return text
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return ""
