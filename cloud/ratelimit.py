"""Rate limits on the routes that check a customer's secret.

A customer's registration number is the only secret behind a login, so every route that
says whether a username + registration pair is right (``@checks_registration``: the
login, the seed's ``/validacao-usuario``, ``/api/v1/customers/validate``) shares two
limits on *failed* attempts: ``LOGIN_RATE_LIMIT`` per username and
``LOGIN_RATE_LIMIT_PER_IP`` per client address, counted together over those routes in the
cloud's Redis (flask-limiter, moving window), so every worker process sees the same
counts. Past either one the answer is 429 with ``Retry-After``, whatever the pair: the
answer never says whether the username exists, and a correct pair is refused too until
the window has room (that is the lockout). A successful attempt costs nothing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, request
from flask_limiter import Limiter, RateLimitExceeded
from werkzeug.exceptions import HTTPException

from cloud.settings import CloudSettings
from nevoa_adapters.jsonapi import error_response, json_body

F = TypeVar("F", bound=Callable[..., Any])
KEY_PREFIX = "nv:cloud:ratelimit"
TOO_MANY = "too many failed attempts; try again later"
_CHECKING_REGISTRATION: set[Callable[..., Any]] = set()


def checks_registration(view: F) -> F:
    """Mark a view that tells whether a username + registration pair is right: it gets
    the login limits when the app is built (:func:`install_login_limits`)."""
    _CHECKING_REGISTRATION.add(view)
    return view


def _client_address() -> str:
    return request.remote_addr or "unknown"


def _username() -> str:
    """The username the body names; the client's address when there is none to read
    (the view answers 400 for such a body, and that failure is counted too)."""
    try:
        name = json_body().get("username")
    except HTTPException:
        name = None
    if isinstance(name, str) and 0 < len(name) <= 64:
        return f"user:{name}"
    return f"address:{_client_address()}"


def _failed(response: Response) -> bool:
    return response.status_code >= 400 and response.status_code != 429


def _storage_uri(redis_url: str) -> str:
    return "redis+unix://" + redis_url.removeprefix("unix://") \
        if redis_url.startswith("unix://") else redis_url


def install_login_limits(app: Flask, settings: CloudSettings) -> Limiter:
    """Put the login limits on every view of ``app`` marked ``@checks_registration``."""
    limiter = Limiter(_client_address, app=app, storage_uri=_storage_uri(settings.redis_url),
                      storage_options={"key_prefix": KEY_PREFIX}, strategy="moving-window",
                      headers_enabled=False)
    per_username = limiter.shared_limit(settings.login_rate_limit, "login-username",
                                        key_func=_username, deduct_when=_failed,
                                        error_message=TOO_MANY)
    per_address = limiter.shared_limit(settings.login_rate_limit_per_ip, "login-address",
                                       key_func=_client_address, deduct_when=_failed,
                                       error_message=TOO_MANY)
    for endpoint, view in list(app.view_functions.items()):
        if view in _CHECKING_REGISTRATION:
            limited: Any = per_address(per_username(view))  # the same view, checked first
            app.view_functions[endpoint] = limited

    @app.errorhandler(RateLimitExceeded)
    def too_many(exc: RateLimitExceeded) -> Response:
        window = exc.limit.limit.get_expiry()  # seconds
        breached = limiter.current_limit
        wait = breached.reset_at - time.time() if breached else window
        retry_after = min(max(1, math.ceil(wait)), window)
        response = error_response(429, TOO_MANY, retry_after=retry_after)
        response.headers["Retry-After"] = str(retry_after)
        return response

    return limiter
