"""The cloud: a Flask API for customers and the utility that asks the fog nodes.

``create_app(test_config)`` follows Flask's application-factory pattern: defaults,
then ``NEVOA_*`` environment variables, then the test override. Nothing connects at
import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import redis
from flask import Flask, jsonify

from cloud import api_v1, openapi, seed_routes
from cloud.accounts import Accounts
from cloud.directory import Directory
from cloud.errors import register_error_handlers
from cloud.fog_client import FogClient
from nevoa_core.billing import DEFAULT_FLAT_RATE


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


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask("cloud")
    app.config.from_mapping(
        REDIS_URL="redis://127.0.0.1:6379/0",
        FOG_URLS="",
        FOG_TIMEOUT=2.0,
        FLAT_RATE=str(DEFAULT_FLAT_RATE),
    )
    app.config.from_prefixed_env("NEVOA")
    if test_config:
        app.config.from_mapping(test_config)
    try:
        rate = Decimal(str(app.config["FLAT_RATE"]))
    except InvalidOperation:
        raise ValueError(f"FLAT_RATE {app.config['FLAT_RATE']!r} is not a number") from None
    if not rate.is_finite() or rate < 0:
        raise ValueError("FLAT_RATE must be a non-negative number")
    client = redis.Redis.from_url(app.config["REDIS_URL"], decode_responses=True)
    fogs = FogClient(parse_fog_urls(app.config["FOG_URLS"]), float(app.config["FOG_TIMEOUT"]))
    app.extensions["nevoa.accounts"] = Accounts(Directory(client), fogs, rate)

    app.register_blueprint(seed_routes.bp)
    app.register_blueprint(api_v1.bp)
    app.register_blueprint(openapi.bp)
    register_error_handlers(app)

    @app.get("/health")
    def health() -> Any:
        return jsonify(status="ok", regions=sorted(fogs.urls))

    return app
