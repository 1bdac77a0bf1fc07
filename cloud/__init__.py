"""The cloud: a Flask API for customers and the utility that asks the fog nodes.

``create_app(test_config)`` follows Flask's application-factory pattern: defaults,
then ``NEVOA_*`` environment variables, then the test override, read once into
:class:`cloud.settings.CloudSettings`. Nothing connects at import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis
from flask import Flask, jsonify

from cloud import (
    api_auth,
    api_billing,
    api_operations,
    api_utility,
    api_v1,
    docs_page,
    openapi,
    seed_routes,
)
from cloud.access import register_audit
from cloud.accounts import Accounts
from cloud.audit import AuditLog
from cloud.auth import ApiKeys, TokenSigner
from cloud.caching import register_default_cache_control
from cloud.directory import Directory
from cloud.errors import register_error_handlers
from cloud.fog_client import FogClient
from cloud.invoicing import Billing
from cloud.ratelimit import install_login_limits
from cloud.settings import DEFAULTS, CloudSettings, parse_fog_urls
from cloud.supply import SupplyControl
from cloud.utility import Utility
from cloud.wiring import Services
from nevoa_adapters.jsonapi import json_api

__all__ = ["create_app", "parse_fog_urls"]


def build_services(settings: CloudSettings) -> Services:
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    fogs = FogClient(settings.fog_urls, settings.fog_timeout)
    directory = Directory(client)
    supply = SupplyControl(client, fogs, settings.command_ttl, settings.clock)
    return Services(
        settings=settings,
        directory=directory,
        fogs=fogs,
        accounts=Accounts(directory, fogs, settings.flat_rate),
        tokens=TokenSigner(settings.secret_key, settings.token_ttl, settings.clock),
        api_keys=ApiKeys(client),
        audit=AuditLog(client),
        billing=Billing(client, directory, fogs, settings.tariffs, supply,
                        settings.invoice_due_days, settings.default_flag, settings.calendar),
        supply=supply,
        utility=Utility(fogs, directory, settings.clock),
    )


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask("cloud", static_folder=None)
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("NEVOA")
    if test_config:
        app.config.from_mapping(test_config)
    json_api(app)  # strict JSON both ways; bodies up to MAX_CONTENT_LENGTH
    app.json.sort_keys = False  # type: ignore[attr-defined]
    settings = CloudSettings.from_config(app.config)
    app.extensions["nevoa.services"] = build_services(settings)

    for blueprint in (seed_routes.bp, api_auth.bp, api_v1.bp, api_billing.bp,
                      api_utility.bp, api_operations.bp, openapi.bp, docs_page.bp):
        app.register_blueprint(blueprint)
    install_login_limits(app, settings)
    register_error_handlers(app)
    register_audit(app)
    register_default_cache_control(app)

    @app.get("/health")
    def health() -> Any:
        return jsonify(status="ok", regions=sorted(settings.fog_urls),
                       timezone=settings.calendar.zone_name,
                       now=settings.calendar.iso(settings.clock.now()))

    return app
