"""Where views find the application's services (built once by the factory)."""

from __future__ import annotations

from flask import current_app

from cloud.accounts import Accounts


def accounts() -> Accounts:
    service: Accounts = current_app.extensions["nevoa.accounts"]
    return service
