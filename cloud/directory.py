"""The customer directory, in the cloud's own Redis. Its key layout lives here:

    nv:cloud:customer:{registration}   hash: username, registration, meter, region, kind, tariff
    nv:cloud:username:{username}       string: the registration of that username
    nv:cloud:meter:{meter}             string: the registration whose meter it is
    nv:cloud:customers                 set of registrations

A customer has one meter, in one region; the region says which fog node holds its data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, cast

import redis

from nevoa_core.ids import check_id
from nevoa_core.kinds import Kind

_REGISTRATION = re.compile(r"[0-9]{1,20}")
_USERNAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
_KIND_BY_LETTER = {k.spec.letter: k for k in Kind}


class InvalidCustomer(ValueError):
    pass


class UnknownCustomer(LookupError):
    def __init__(self, registration: str) -> None:
        super().__init__(f"no customer with registration {registration!r}")
        self.registration = registration


class UnknownMeter(LookupError):
    def __init__(self, meter: str) -> None:
        super().__init__(f"no customer has meter {meter!r}")
        self.meter = meter


def check_registration(value: object) -> str:
    """A registration (matrícula) is 1-20 digits; JSON numbers are accepted too."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    if not isinstance(value, str) or not _REGISTRATION.fullmatch(value):
        raise InvalidCustomer("registration (matricula) must be a string of 1 to 20 digits")
    return value


def check_username(value: object) -> str:
    if not isinstance(value, str) or not _USERNAME.fullmatch(value):
        raise InvalidCustomer("username must be 1-64 letters, digits or _.@-")
    return value


def kind_of_meter(meter: str) -> Kind | None:
    """The kind a simulated meter's id names (``r1-e000001`` -> electricity), if any."""
    _, sep, rest = meter.rpartition("-")
    return _KIND_BY_LETTER.get(rest[:1]) if sep and rest[1:].isdigit() else None


@dataclass(frozen=True, slots=True)
class Customer:
    username: str
    registration: str
    meter: str
    region: str
    kind: str = ""  # electricity / water; derived from the meter id when empty
    tariff: str = ""  # a tariff name; empty: the kind's default tariff

    def __post_init__(self) -> None:
        check_username(self.username)
        check_registration(self.registration)
        try:
            check_id(self.meter, "meter id")
            check_id(self.region, "region")
        except ValueError as exc:
            raise InvalidCustomer(str(exc)) from None
        if not self.kind:
            derived = kind_of_meter(self.meter)
            if derived is None:
                raise InvalidCustomer(f"kind is missing and meter id {self.meter!r} "
                                      "does not name one")
            object.__setattr__(self, "kind", derived.label)
        try:
            Kind.from_label(self.kind)
        except ValueError as exc:
            raise InvalidCustomer(str(exc)) from None

    @property
    def meter_kind(self) -> Kind:
        return Kind.from_label(self.kind)


def _customer_key(registration: str) -> str:
    return f"nv:cloud:customer:{registration}"


def _username_key(username: str) -> str:
    return f"nv:cloud:username:{username}"


def _meter_key(meter: str) -> str:
    return f"nv:cloud:meter:{meter}"


_ALL = "nv:cloud:customers"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the directory holds now for some registrations, usernames and meters."""

    customers: dict[str, Customer]  # registration -> customer
    usernames: dict[str, str]  # username -> registration
    meters: dict[str, str]  # meter -> registration


class Directory:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def add_many(self, customers: Iterable[Customer]) -> int:
        """Write customers as given (the demo loader); :mod:`cloud.bulk_import` checks
        conflicts before it calls :meth:`apply`."""
        return self.apply(customers, [])

    def apply(self, upserts: Iterable[Customer], replaced: Sequence[Customer]) -> int:
        """Write ``upserts``; drop the username/meter index entries of the ``replaced``
        versions first (a customer whose username or meter changed)."""
        pipe = self._redis.pipeline(transaction=True)
        for old in replaced:
            pipe.delete(_username_key(old.username), _meter_key(old.meter))
        n = 0
        for c in upserts:
            fields: dict[Any, Any] = asdict(c)  # redis-py's key type is a wide union
            pipe.hset(_customer_key(c.registration), mapping=fields)
            pipe.set(_username_key(c.username), c.registration)
            pipe.set(_meter_key(c.meter), c.registration)
            pipe.sadd(_ALL, c.registration)
            n += 1
        pipe.execute()
        return n

    def snapshot(self, registrations: Sequence[str], usernames: Sequence[str],
                 meters: Sequence[str]) -> Snapshot:
        pipe = self._redis.pipeline(transaction=False)
        for r in registrations:
            pipe.hgetall(_customer_key(r))
        for u in usernames:
            pipe.get(_username_key(u))
        for m in meters:
            pipe.get(_meter_key(m))
        results = pipe.execute()
        nr, nu = len(registrations), len(usernames)
        return Snapshot(
            {r: Customer(**f) for r, f in zip(registrations, results[:nr], strict=True) if f},
            {u: v for u, v in zip(usernames, results[nr:nr + nu], strict=True) if v},
            {m: v for m, v in zip(meters, results[nr + nu:], strict=True) if v},
        )

    def get(self, registration: str) -> Customer:
        fields = cast(dict[str, str], self._redis.hgetall(_customer_key(registration)))
        if not fields:
            raise UnknownCustomer(registration)
        return Customer(**fields)

    def find(self, username: object, registration: object) -> Customer:
        """The customer with both this username and this registration, as a request gave
        them (checked here: an invalid one is an InvalidCustomer, a 400)."""
        registration = check_registration(registration)
        customer = self.get(registration)
        if customer.username != check_username(username):
            raise UnknownCustomer(registration)
        return customer

    def by_meter(self, meter: str) -> Customer:
        registration = cast(str | None, self._redis.get(_meter_key(meter)))
        if registration is None:
            raise UnknownMeter(meter)
        return self.get(registration)

    def registrations_of(self, meters: Sequence[str]) -> dict[str, str]:
        """meter -> registration, for the meters the directory knows."""
        if not meters:
            return {}
        values = cast(list[str | None], self._redis.mget([_meter_key(m) for m in meters]))
        return {m: r for m, r in zip(meters, values, strict=True) if r}

    def count(self) -> int:
        return int(self._redis.scard(_ALL))
