"""The customer directory, in the cloud's own Redis. Its key layout lives here:

    nv:cloud:customer:{registration}   hash: username, registration, meter, region
    nv:cloud:username:{username}       string: the registration of that username
    nv:cloud:customers                 set of registrations
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import redis

from nevoa_core.ids import check_id

_REGISTRATION = re.compile(r"[0-9]{1,20}")
_USERNAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


class InvalidCustomer(ValueError):
    pass


class UnknownCustomer(LookupError):
    def __init__(self, registration: str) -> None:
        super().__init__(f"no customer with registration {registration!r}")
        self.registration = registration


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


@dataclass(frozen=True, slots=True)
class Customer:
    username: str
    registration: str
    meter: str
    region: str

    def __post_init__(self) -> None:
        check_username(self.username)
        check_registration(self.registration)
        check_id(self.meter, "meter id")
        check_id(self.region, "region")


def _customer_key(registration: str) -> str:
    return f"nv:cloud:customer:{registration}"


def _username_key(username: str) -> str:
    return f"nv:cloud:username:{username}"


_ALL = "nv:cloud:customers"


class Directory:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def add_many(self, customers: Iterable[Customer]) -> int:
        pipe = self._redis.pipeline(transaction=False)
        n = 0
        for c in customers:
            pipe.hset(_customer_key(c.registration), mapping=asdict(c))
            pipe.set(_username_key(c.username), c.registration)
            pipe.sadd(_ALL, c.registration)
            n += 1
        pipe.execute()
        return n

    def get(self, registration: str) -> Customer:
        fields: dict[str, str] = self._redis.hgetall(_customer_key(registration))
        if not fields:
            raise UnknownCustomer(registration)
        return Customer(**fields)

    def find(self, username: str, registration: str) -> Customer:
        """The customer with both this username and this registration."""
        customer = self.get(registration)
        if customer.username != username:
            raise UnknownCustomer(registration)
        return customer

    def count(self) -> int:
        return int(self._redis.scard(_ALL))
