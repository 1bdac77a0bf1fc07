"""Authentication and authorisation at the HTTP edge: who the caller is, and whether
this route lets them in. A viewer reads; only an operator acts (any method that is not a
read), on the utility's routes and on a customer's alike. The audit log gets every staff
action (any request that is not a GET), every staff read of one customer's data, and
every refused staff request, each with who (key name and role), when, what (method,
path, query, status and what the view noted) and from where (the client's address); the
city-wide reads (rankings, means, alerts) are not personal and are not logged (each
log entry is an fsync'd write on the cloud's Redis)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import Flask, Response, g, request
from flask.typing import ResponseReturnValue

from cloud.auth import KEY_PREFIX, Forbidden, NotAuthenticated, Principal, Role
from cloud.directory import check_registration
from cloud.wiring import now, services

READ_METHODS = ("GET", "HEAD", "OPTIONS")
P = ParamSpec("P")
R = TypeVar("R")
log = logging.getLogger("nevoa.cloud.audit")


def _authenticate() -> Principal | None:
    key = request.headers.get("X-API-Key")
    if key:
        return services().api_keys.principal(key)
    header = request.headers.get("Authorization")
    if not header:
        return None
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise NotAuthenticated("use 'Authorization: Bearer <token>' or 'X-API-Key: <key>'")
    credential = credential.strip()
    if credential.startswith(KEY_PREFIX):
        return services().api_keys.principal(credential)
    registration = services().tokens.verify(credential)
    return Principal(Role.CUSTOMER, registration, registration)


def principal() -> Principal:
    """The caller; raises :class:`NotAuthenticated` (401) when there is none."""
    if "principal" not in g:
        g.principal = _authenticate()
    if g.principal is None:
        raise NotAuthenticated("this route needs a customer token (Authorization: Bearer) "
                               "or an operator API key (X-API-Key)")
    p: Principal = g.principal
    return p


def customer_data(view: Callable[..., R]) -> Callable[..., R]:
    """For routes with ``<registration>``: the customer themself, or staff; a route that
    changes something (not a read) is for the customer or an operator only."""

    @wraps(view)
    def wrapper(registration: str, **kwargs: Any) -> R:
        caller = principal()
        registration = check_registration(registration)
        if not caller.may_read_customer(registration):
            raise Forbidden("a customer may read only their own data")
        if request.method not in READ_METHODS and not caller.may_act_for_customer(registration):
            raise Forbidden("a viewer reads only: this needs the customer's token or an "
                            "API key with role operator")
        if caller.is_staff:
            g.audit_read = True  # staff looking at one customer's data
        return view(registration, **kwargs)

    return wrapper


def staff(role: Role = Role.VIEWER) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Routes for the utility: ``viewer`` reads, ``operator`` also acts (a route open to
    viewers still needs an operator for any method that is not a read)."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            caller = principal()
            acts = role is Role.OPERATOR or request.method not in READ_METHODS
            allowed = (Role.OPERATOR,) if acts else (Role.VIEWER, Role.OPERATOR)
            if caller.role not in allowed:
                raise Forbidden(f"this route is for the utility's "
                                f"{'operators' if acts else 'staff'} "
                                f"(API key with role {' or '.join(allowed)})")
            return view(*args, **kwargs)

        return wrapper

    return decorate


def audit_note(**detail: Any) -> None:
    """Add what an action did (a command id, a count) to its audit entry."""
    g.setdefault("audit_detail", {}).update(detail)


def register_audit(app: Flask) -> None:
    @app.after_request
    def audit(response: Response) -> ResponseReturnValue:
        caller: Principal | None = g.get("principal")
        if caller is not None and caller.is_staff and (
                request.method not in READ_METHODS or g.get("audit_read")
                or response.status_code in (401, 403)):
            entry = {
                "at": now(), "actor": caller.name, "role": caller.role.value,
                "method": request.method, "path": request.path,
                "query": request.query_string.decode(errors="replace")[:500],
                "status": response.status_code, "remote": request.remote_addr,
                "detail": g.get("audit_detail", {}),
            }
            try:
                services().audit.record(entry)
            except Exception:  # the action happened; failing to log it must be loud
                log.exception("could not write the audit entry %s", entry)
        return response
