"""What a customer asks about their meter: the cloud's use cases, free of HTTP.

Each function takes the directory and the fog client, looks the customer up, asks the
region's fog node, and applies the domain rules of :mod:`nevoa_core`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cloud.directory import Customer, Directory
from cloud.fog_client import FogClient
from nevoa_core.billing import FlatInvoice, flat_invoice
from nevoa_core.consumption import READINGS_FOR_EXCESS_CHECK, ExcessCheck, check_excess
from nevoa_core.consumption import NotEnoughReadings as NotEnoughReadings
from nevoa_core.senml import Reading


@dataclass(frozen=True, slots=True)
class LastPeriodInvoice:
    customer: Customer
    start: Reading
    end: Reading
    invoice: FlatInvoice


@dataclass(frozen=True, slots=True)
class ExcessReport:
    customer: Customer
    readings: list[Reading]
    check: ExcessCheck


class Accounts:
    def __init__(self, directory: Directory, fogs: FogClient, flat_rate: Decimal) -> None:
        self.directory = directory
        self.fogs = fogs
        self.flat_rate = flat_rate

    def latest_reading(self, registration: str) -> tuple[Customer, Reading]:
        customer = self.directory.get(registration)
        reading = self.fogs.latest(customer.region, customer.meter)
        if reading is None:
            raise NotEnoughReadings(1, 0)
        return customer, reading

    def history(self, registration: str, limit: int) -> tuple[Customer, list[Reading]]:
        customer = self.directory.get(registration)
        return customer, self.fogs.history(customer.region, customer.meter, limit)

    def last_period_invoice(self, registration: str) -> LastPeriodInvoice:
        """The seed's invoice: (last reading - the one before) x flat rate."""
        customer = self.directory.get(registration)
        readings = self.fogs.history(customer.region, customer.meter, 2)
        if len(readings) < 2:
            raise NotEnoughReadings(2, len(readings))
        start, end = readings
        return LastPeriodInvoice(
            customer, start, end, flat_invoice(start.register, end.register, self.flat_rate)
        )

    def excess_consumption(self, registration: str) -> ExcessReport:
        customer = self.directory.get(registration)
        readings = self.fogs.history(customer.region, customer.meter, READINGS_FOR_EXCESS_CHECK)
        check = check_excess([r.register for r in readings])
        return ExcessReport(customer, readings, check)
