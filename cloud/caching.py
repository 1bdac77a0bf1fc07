"""Cache-Control that fits each answer.

Anything a route does not mark is ``no-store``: personal data, alerts, commands and
audit entries must not sit in a shared cache. Routes mark what may be reused:

* the OpenAPI document, the docs page and the tariffs: ``public``, minutes;
* a customer's data: ``private`` (only the customer's own browser), seconds for data that
  changes with each reading, an hour for a range that is over;
* rankings and means of a period that is over: ``private, max-age=300``; of the running
  period a few seconds. A partial answer (a region missing) is never cached.
"""

from __future__ import annotations

from flask import Flask, Response

NO_STORE = "no-store"


def private(seconds: int) -> str:
    return f"private, max-age={seconds}"


def public(seconds: int) -> str:
    return f"public, max-age={seconds}"


def with_cache(response: Response, policy: str) -> Response:
    response.headers["Cache-Control"] = policy
    if policy.startswith("private"):
        response.vary.update(("Authorization", "X-API-Key"))
    return response


def for_period(closed: bool, partial: bool = False) -> str:
    if partial:
        return NO_STORE
    return private(300) if closed else private(5)


def register_default_cache_control(app: Flask) -> None:
    @app.after_request
    def default_no_store(response: Response) -> Response:
        response.headers.setdefault("Cache-Control", NO_STORE)
        return response
