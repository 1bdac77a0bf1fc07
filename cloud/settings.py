"""The cloud's configuration, read once from the Flask config into a frozen dataclass.

Keys (each also ``NEVOA_<KEY>`` in the environment): ``REDIS_URL``, ``FOG_URLS``
(``r1=http://h:p,r2=...``), ``FOG_TIMEOUT`` (seconds for any call to a fog node, and
for a whole fan-out), ``FLAT_RATE`` (the seed routes' price per unit), ``SECRET_KEY``
(signs customer tokens; random per process when unset), ``TOKEN_TTL`` (seconds),
``TARIFFS_FILE`` (JSON tariff book; default the shipped ``cloud/tariffs.json``),
``DEFAULT_FLAG`` (the tariff flag of a month nobody set), ``INVOICE_DUE_DAYS``,
``COMMAND_TTL`` (seconds a valve command may wait for its meter), ``TIMEZONE`` (the
utility's IANA zone: billing months, days, due dates; default ``America/Sao_Paulo``),
``MAX_CONTENT_LENGTH`` (bytes of a request body, 1 MiB), ``IMPORT_MAX_BYTES`` (bytes of a
bulk import's body, 32 MiB), ``LOGIN_RATE_LIMIT`` (failed attempts per username at the
routes that check a registration, e.g. ``10/minute``; ``;`` separates several),
``LOGIN_RATE_LIMIT_PER_IP`` (the same per client address, ``30/minute``) and
``CLOCK_START`` (tests and drills only: the clock starts at this instant and runs on).
A test may also pass a ``CLOCK`` object (:class:`nevoa_core.clock.FixedClock`).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from limits import parse_many

from nevoa_core.calendar import DEFAULT_TIMEZONE, Calendar
from nevoa_core.clock import Clock, clock_from
from nevoa_core.tariffs import Flag, TariffBook, parse_tariff_book

log = logging.getLogger("nevoa.cloud")

DEFAULTS: dict[str, Any] = {
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "FOG_URLS": "",
    "FOG_TIMEOUT": 2.0,
    "FLAT_RATE": "3",
    "SECRET_KEY": "",
    "TOKEN_TTL": 3600,
    "TARIFFS_FILE": "",
    "DEFAULT_FLAG": "green",
    "INVOICE_DUE_DAYS": 15,
    "COMMAND_TTL": 300,
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "IMPORT_MAX_BYTES": 32 * 1024 * 1024,
    "LOGIN_RATE_LIMIT": "10/minute",
    "LOGIN_RATE_LIMIT_PER_IP": "30/minute",
    "TIMEZONE": DEFAULT_TIMEZONE,
    "CLOCK_START": "",
}


def parse_fog_urls(value: str | Mapping[str, str]) -> dict[str, str]:
    """``"r1=http://h:p,r2=http://h:q"`` (or a mapping) -> {region: url}."""
    if isinstance(value, Mapping):
        return dict(value)
    urls: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        region, sep, url = item.partition("=")
        if not sep or not region or not url:
            raise ValueError(f"fog URL {item!r} is not region=url")
        urls[region.strip()] = url.strip()
    return urls


def _rate_limit(config: Mapping[str, Any], key: str) -> str:
    value = str(config[key]).strip()
    try:
        parse_many(value)
    except ValueError:
        raise ValueError(f"{key} {value!r} is not a rate limit such as 10/minute") from None
    return value


def load_tariff_book(path: str) -> TariffBook:
    text = (Path(path).read_text() if path
            else resources.files("cloud").joinpath("tariffs.json").read_text())
    return parse_tariff_book(json.loads(text))


@dataclass(frozen=True, slots=True)
class CloudSettings:
    redis_url: str
    fog_urls: dict[str, str]
    fog_timeout: float
    flat_rate: Decimal
    secret_key: bytes
    token_ttl: float
    tariffs: TariffBook
    default_flag: Flag
    invoice_due_days: int
    command_ttl: int
    calendar: Calendar
    clock: Clock
    import_max_bytes: int
    login_rate_limit: str  # failed attempts per username
    login_rate_limit_per_ip: str  # failed attempts per client address

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CloudSettings:
        try:
            rate = Decimal(str(config["FLAT_RATE"]))
        except InvalidOperation:
            raise ValueError(f"FLAT_RATE {config['FLAT_RATE']!r} is not a number") from None
        if not rate.is_finite() or rate < 0:
            raise ValueError("FLAT_RATE must be a non-negative number")
        secret = str(config["SECRET_KEY"] or "")
        if not secret:
            log.warning("SECRET_KEY is not set: customer tokens are valid for this process "
                        "only (set NEVOA_SECRET_KEY to share them across processes)")
            secret = secrets.token_hex(32)
        timeout = float(config["FOG_TIMEOUT"])
        if not 0 < timeout <= 60:
            raise ValueError("FOG_TIMEOUT must be from 0 to 60 seconds")
        return cls(
            redis_url=str(config["REDIS_URL"]),
            fog_urls=parse_fog_urls(config["FOG_URLS"]),
            fog_timeout=timeout,
            flat_rate=rate,
            secret_key=secret.encode(),
            token_ttl=float(config["TOKEN_TTL"]),
            tariffs=load_tariff_book(str(config["TARIFFS_FILE"] or "")),
            default_flag=Flag(str(config["DEFAULT_FLAG"])),
            invoice_due_days=int(config["INVOICE_DUE_DAYS"]),
            command_ttl=int(config["COMMAND_TTL"]),
            calendar=Calendar(str(config["TIMEZONE"] or DEFAULT_TIMEZONE)),
            clock=config.get("CLOCK") or clock_from(str(config["CLOCK_START"] or "") or None),
            import_max_bytes=int(config["IMPORT_MAX_BYTES"]),
            login_rate_limit=_rate_limit(config, "LOGIN_RATE_LIMIT"),
            login_rate_limit_per_ip=_rate_limit(config, "LOGIN_RATE_LIMIT_PER_IP"),
        )
