"""Who is asking: customer tokens and operator API keys.

* A **customer** logs in with username + registration (``POST /api/v1/auth/login``) and
  gets a token ``c1.<registration>.<expires>.<signature>``: HMAC-SHA256 over the rest with
  the cloud's ``SECRET_KEY``. It is checked without any lookup, expires after
  ``TOKEN_TTL`` seconds, and is sent as ``Authorization: Bearer <token>``.
* An **operator** of the utility uses an API key (``nvk_...``) created with
  ``nevoa-cloud create-api-key --name NAME --role ROLE`` and sent as ``X-API-Key``. Only a
  SHA-256 of the key is stored (``nv:cloud:apikey:{sha256}`` hash: name, role,
  created_at), looked up at most every 10 s per process. Roles: ``viewer`` reads the
  utility's data (rankings, means, alerts, policies, commands, any customer's data);
  ``operator`` also acts (imports, caps, cuts, restores, acknowledgements, tariff flags)
  and reads the audit log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import cast

import redis

from cloud.ttl_cache import TtlCache
from nevoa_core.clock import Clock, SystemClock


class Role(StrEnum):
    CUSTOMER = "customer"
    VIEWER = "viewer"
    OPERATOR = "operator"


STAFF_ROLES = (Role.VIEWER, Role.OPERATOR)
TOKEN_VERSION = "c1"
KEY_PREFIX = "nvk_"


class NotAuthenticated(PermissionError):
    """No credentials, or credentials that are not valid (401)."""


class Forbidden(PermissionError):
    """Valid credentials that do not allow this (403)."""


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    name: str  # the username, or the API key's name
    registration: str | None = None  # customers only

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    def may_read_customer(self, registration: str) -> bool:
        return self.is_staff or self.registration == registration

    def may_act_for_customer(self, registration: str) -> bool:
        """Change a customer's data (pay an invoice): the customer, or an operator."""
        return self.role is Role.OPERATOR or self.registration == registration


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenSigner:
    def __init__(self, secret: bytes, ttl: float, clock: Clock | None = None) -> None:
        if len(secret) < 16:
            raise ValueError("SECRET_KEY must be at least 16 bytes")
        self._secret = secret
        self.ttl = ttl
        self.clock = clock or SystemClock()

    def _sign(self, message: str) -> str:
        return _b64(hmac.new(self._secret, message.encode(), hashlib.sha256).digest())

    def issue(self, registration: str, now: float | None = None) -> tuple[str, int]:
        expires = int((self.clock.now() if now is None else now) + self.ttl)
        message = f"{TOKEN_VERSION}.{registration}.{expires}"
        return f"{message}.{self._sign(message)}", expires

    def verify(self, token: str, now: float | None = None) -> str:
        """The registration the token was issued to; raises :class:`NotAuthenticated`."""
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != TOKEN_VERSION:
            raise NotAuthenticated("the token is not a nevoa customer token")
        message = ".".join(parts[:3])
        if not hmac.compare_digest(parts[3], self._sign(message)):
            raise NotAuthenticated("the token's signature is not valid")
        try:
            expires = int(parts[2])
        except ValueError:
            raise NotAuthenticated("the token is malformed") from None
        if (self.clock.now() if now is None else now) >= expires:
            raise NotAuthenticated("the token has expired; log in again")
        return parts[1]


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _key_record(key_hash: str) -> str:
    return f"nv:cloud:apikey:{key_hash}"


KEY_CACHE_SECONDS = 10.0  # a revoked key stops working within this time


class ApiKeys:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client
        self._known: TtlCache[Principal] = TtlCache(max_entries=4096)

    def create(self, name: str, role: Role) -> str:
        """A new key; it is shown once and only its hash is kept."""
        if role not in STAFF_ROLES:
            raise ValueError(f"an API key's role is one of {', '.join(STAFF_ROLES)}")
        if not name or len(name) > 64:
            raise ValueError("an API key needs a name of 1-64 characters")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        self._redis.hset(_key_record(_key_hash(key)), mapping={
            "name": name, "role": role.value, "created_at": repr(time.time())})
        return key

    def principal(self, key: str) -> Principal:
        digest = _key_hash(key)
        known = self._known.get(digest)
        if known is not None:
            return known[0]
        record = cast(dict[str, str], self._redis.hgetall(_key_record(digest)))
        if not record:
            raise NotAuthenticated("unknown API key")
        found = Principal(Role(record["role"]), record["name"])
        self._known.put(digest, found, KEY_CACHE_SECONDS)
        return found

    def revoke(self, key: str) -> bool:
        return bool(self._redis.delete(_key_record(_key_hash(key))))
