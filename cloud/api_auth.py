"""Logging in: a customer's username + registration for an expiring token (failed
attempts are rate-limited: :mod:`cloud.ratelimit`)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from cloud.access import principal
from cloud.auth import NotAuthenticated
from cloud.directory import UnknownCustomer
from cloud.ratelimit import checks_registration
from cloud.requests import json_body
from cloud.wiring import services

bp = Blueprint("auth", __name__, url_prefix="/api/v1/auth")


@bp.post("/login")
@checks_registration
def login() -> ResponseReturnValue:
    body = json_body("username", "registration")
    try:
        customer = services().directory.find(body["username"], body["registration"])
    except UnknownCustomer:
        # the same answer whichever half is wrong: no probing for registrations
        raise NotAuthenticated("unknown username and registration") from None
    token, expires = services().tokens.issue(customer.registration)
    return jsonify(token=token, token_type="Bearer", expires_at=expires,
                   registration=customer.registration, username=customer.username)


@bp.get("/whoami")
def whoami() -> ResponseReturnValue:
    p = principal()
    return jsonify(role=p.role.value, name=p.name, registration=p.registration)
